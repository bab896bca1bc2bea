"""Is the IWAE decoder FLOP-bound? Its two ConvTranspose2d layers against a matmul of equal FLOPs.

The IWAE metric spends ~80 % of its time in the decoder's two transposed convolutions (vae at
28 px: 128 -> 64 channels at 7 -> 14 px, 64 -> 32 at 14 -> 28 px, kernel 4, stride 2). If each runs
about as fast as one GEMM of the same FLOPs, the evaluation is at the machine's matmul speed and
no reformulation at equal precision (col2im, channels-last) can make it much faster; only fewer
FLOPs or more cores can.

    OMP_NUM_THREADS=1 python benchmarks/convt_gemm.py [--rows 512] [--repeats 5]

Prints, per layer, the median time of the transposed convolution (NCHW and channels-last), of the
GEMM with the same FLOPs (rows*H*W x C_in @ C_in x C_out*16) and of the GEMM + col2im lowering,
with GFLOP/s and the convolution / GEMM ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=512, help="decoder rows per call (images x samples)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.rows} rows per call")
    with torch.inference_mode():
        for c_in, c_out, size in [(128, 64, 7), (64, 32, 14)]:
            layer = torch.nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)
            x = torch.randn(args.rows, c_in, size, size)
            flops = 2 * args.rows * c_in * c_out * 16 * size * size
            conv = median_seconds(lambda: layer(x), args.repeats)
            x_last, layer_last = x.contiguous(memory_format=torch.channels_last), layer.to(memory_format=torch.channels_last)
            conv_last = median_seconds(lambda: layer_last(x_last), args.repeats)
            a, b = torch.randn(args.rows * size * size, c_in), torch.randn(c_in, c_out * 16)
            gemm = median_seconds(lambda: a @ b, args.repeats)
            weight = layer.weight.reshape(c_in, c_out * 16)

            def lowered():
                columns = (x.flatten(2).transpose(1, 2) @ weight).transpose(1, 2)
                return torch.nn.functional.fold(columns, (2 * size, 2 * size), 4, stride=2, padding=1)

            assert torch.allclose(lowered(), layer(x), atol=1e-3)
            fold = median_seconds(lowered, args.repeats)
            rate = lambda s: flops / s / 1e9  # noqa: E731
            print(f"{c_in}->{c_out} at {size}->{2 * size} px: convT {conv * 1e3:.1f} ms ({rate(conv):.1f} GFLOP/s), "
                  f"channels-last {conv_last * 1e3:.1f} ms ({rate(conv_last):.1f}), GEMM {gemm * 1e3:.1f} ms "
                  f"({rate(gemm):.1f}), GEMM+col2im {fold * 1e3:.1f} ms; convT / GEMM {conv / gemm:.2f}, "
                  f"channels-last / GEMM {conv_last / gemm:.2f}")


if __name__ == "__main__":
    main()
