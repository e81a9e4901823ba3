// Test input for cmake/check_layering.cmake: weights/ may include core/.
#include "core/error.h"
