// tx2yolo-bench: the CLI's bench, tune, compare, random-model and selftest subcommands
// in an executable that needs only OpenCV core and imgproc (no image or video
// codecs), so that it can be carried to a GPU machine that has the CUDA
// driver and little else. It reads no image files: `bench --synthetic`.
#include "tools/cli_main.h"

int main(int argc, char** argv) {
  using namespace tx2yolo;
  return run_cli(argc, argv,
                 "tx2yolo-bench: tx2yolo's bench, tune, compare, random-model and selftest without image codecs",
                 {{"bench", add_bench_command},
                  {"tune", add_tune_command},
                  {"compare", add_compare_command},
                  {"random-model", add_random_model_command},
                  {"selftest", add_selftest_command}});
}
