// Test input for cmake/check_layering.cmake: kernels/ must not include engine/.
#include "engine/detector.h"
