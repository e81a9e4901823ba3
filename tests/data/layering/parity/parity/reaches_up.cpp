// Test input for cmake/check_layering.cmake: parity/ must not include eval/.
#include "eval/voc_metric.h"
