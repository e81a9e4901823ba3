#!/usr/bin/env python3
"""Makes tests/data/paddle/std/pir/ (Paddle 3 PIR `model.json` + `model.pdiparams`).

Run with Paddle 3 (scripts/paddle/requirements-paddle3.txt), after make_fixtures.py:

    FLAGS_enable_pir_api=0 /work/paddle3-venv/bin/python scripts/paddle/make_pir_fixture.py

Paddle 3 writes PIR `.json` programs. PaddleDetection 2.6 does not run on Paddle 3, so the
std model's Paddle 2.6 inference export (std/export) is loaded by Paddle 3 as a legacy
program, translated to PIR by Paddle's own translator (paddle.pir.translate_to_pir), and
written by Paddle's own PIR serializer and save_combine, exactly as save_inference_model
does under PIR (parameters sorted by name). The result is then loaded back with Paddle 3's
PIR loader (FLAGS_enable_pir_api=1, in a child process) and run on the std reference's
input; its NMS output must equal the reference's, or the script fails.
"""

import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', '..', 'tests', 'data', 'paddle')
SRC = os.path.join(DATA, 'std', 'export', 'model')
OUT = os.path.join(DATA, 'std', 'pir')
REF = os.path.join(DATA, 'refs', 'std_fruits_128x128.safetensors')


def write():
    import paddle
    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    prog, _, _ = paddle.static.load_inference_model(SRC, exe)
    pir_prog = paddle.pir.translate_to_pir(prog.desc)
    os.makedirs(OUT, exist_ok=True)
    # (program, path, version, pretty, readable, trainable) as save_inference_model_pir passes them
    paddle.core.serialize_pir_program(pir_prog, os.path.join(OUT, 'model.json'), 1, True, False, True)
    names = sorted(op.attrs()['parameter_name'] for op in pir_prog.global_block().ops
                   if op.name() == 'builtin.parameter')
    scope = paddle.static.global_scope()
    tensors = [scope.find_var(n).get_tensor() for n in names]
    paddle.base.core.save_combine_func(tensors, names, os.path.join(OUT, 'model.pdiparams'), True, False, False)
    print('wrote', OUT, len(names), 'parameters')


def check():
    import numpy as np
    import paddle
    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    prog, feeds, fetches = paddle.static.load_inference_model(os.path.join(OUT, 'model'), exe)
    b = open(REF, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    data = b[8 + n:]

    def get(k):
        e = h[k]
        s, t = e['data_offsets']
        dt = {'F32': np.float32, 'I32': np.int32}[e['dtype']]
        return np.frombuffer(data[s:t], dt).reshape(e['shape'])

    feed = {'image': get('input'), 'im_shape': get('im_shape'), 'scale_factor': get('scale_factor')}
    out = exe.run(prog, feed={k: feed[k] for k in feeds}, fetch_list=fetches)
    ref = get('nms.out')
    if out[0].shape != ref.shape or not np.array_equal(out[0], ref):
        sys.exit('PIR model output differs from the reference: %s vs %s' % (out[0].shape, ref.shape))
    print('PIR model loaded by Paddle %s and run: nms.out equals the reference (%d rows)'
          % (paddle.__version__, ref.shape[0]))


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check':
        check()
    else:
        if os.environ.get('FLAGS_enable_pir_api') != '0':
            sys.exit('run with FLAGS_enable_pir_api=0 (the legacy export is loaded first)')
        write()
        env = dict(os.environ, FLAGS_enable_pir_api='1')
        subprocess.check_call([sys.executable, os.path.abspath(__file__), '--check'], env=env)
