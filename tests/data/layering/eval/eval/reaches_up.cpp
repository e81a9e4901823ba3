// Test input for cmake/check_layering.cmake: eval/ must not include tools/.
#include "tools/cli_main.h"
