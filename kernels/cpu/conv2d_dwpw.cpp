// CPU reference for conv2d_dwpw (formula and layouts in kernels/conv2d_dwpw.h):
// the two convs one after the other through a temporary.
#include "kernels/conv2d_dwpw.h"

#include <vector>

#include "core/error.h"

namespace tx2yolo {

bool conv2d_dwpw_fusable(const Conv2dParams& dw, const Conv2dParams& pw, std::string* why) {
  std::string reason;
  if (!(dw.groups == dw.in_channels && dw.groups == dw.out_channels)) {
    reason = cat("the first conv is not depthwise (groups ", dw.groups, ", ", dw.in_channels, "->", dw.out_channels,
                 ")");
  } else if (dw.kernel_h > 7 || dw.kernel_w > 7) {
    reason = cat("the depthwise kernel ", dw.kernel_h, "x", dw.kernel_w, " is larger than 7x7");
  } else if (dw.out_channel_offset != 0 || dw.out_channels_total != dw.out_channels) {
    reason = "the depthwise conv writes a channel slice";
  } else if (!(pw.kernel_h == 1 && pw.kernel_w == 1 && pw.stride_h == 1 && pw.stride_w == 1 && pw.pad_h == 0 &&
               pw.pad_w == 0 && pw.groups == 1)) {
    reason = "the second conv is not pointwise";
  } else if (pw.in_channels != dw.out_channels || pw.in_h != dw.out_h || pw.in_w != dw.out_w ||
             pw.batch != dw.batch) {
    reason = cat("the pointwise input ", pw.batch, "x", pw.in_channels, "x", pw.in_h, "x", pw.in_w,
                 " is not the depthwise output ", dw.batch, "x", dw.out_channels, "x", dw.out_h, "x", dw.out_w);
  } else if (dw.out_h <= 0 || pw.out_channels_total < pw.out_channels) {
    reason = "the params were not finalized";
  }
  if (why) *why = reason;
  return reason.empty();
}

void conv2d_dwpw_cpu(const Conv2dDwPwParams& p, const float* in, const float* dw_w, const float* dw_b,
                     const float* pw_w, const float* pw_b, float* out) {
  std::string why;
  TX2_REQUIRE(conv2d_dwpw_fusable(p.dw, p.pw, &why), "conv2d_dwpw: ", why);
  std::vector<float> mid(static_cast<std::size_t>(p.dw.batch) * p.dw.out_channels * p.dw.out_h * p.dw.out_w);
  conv2d_cpu(p.dw, in, dw_w, dw_b, mid.data());
  conv2d_cpu(p.pw, mid.data(), pw_w, pw_b, out);
}

}  // namespace tx2yolo
