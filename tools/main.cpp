// tx2yolo: the command-line tool. Errors print one line "error: ..." and exit 1.
#include "tools/cli_main.h"

int main(int argc, char** argv) {
  using namespace tx2yolo;
  return run_cli(argc, argv,
                 "tx2yolo: YOLOv3-MobileNetV1 (PaddleDetection) inference on Jetson TX2 and other GPUs, "
                 "with a CPU reference",
                 {{"detect", add_detect_command},
                  {"inspect", add_inspect_command},
                  {"convert", add_convert_command},
                  {"compare", add_compare_command},
                  {"eval", add_eval_command},
                  {"sensitivity", add_sensitivity_command},
                  {"bench", add_bench_command},
                  {"tune", add_tune_command},
                  {"random-model", add_random_model_command},
                  {"selftest", add_selftest_command},
                  {"triton-repo", add_triton_repo_command}});
}
