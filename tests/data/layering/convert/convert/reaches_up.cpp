// Test input for cmake/check_layering.cmake: convert/ must not include engine/.
#include "engine/detector.h"
