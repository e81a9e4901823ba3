// Test input for cmake/check_layering.cmake: convert/ may include weights/.
#include "weights/graph.h"
