// Test input for cmake/check_layering.cmake: engine/ may include engine/.
#include "engine/backend.h"
