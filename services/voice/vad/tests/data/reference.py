"""Reference speech probabilities for the weights Cabin runs (silero_vad_16k.safetensors from
silero-vad 6.2.3), in numpy, following the package's own model definition
(silero_vad/tinygrad_model.py) step by step. The package's ONNX files hold a different
checkpoint, so they cannot be the reference; tinygrad itself needs clang here.

Run once to produce `reference.json`; the test compares the candle model against it:

    pip install numpy
    pip download --no-deps silero-vad==6.2.3 && unzip silero_vad-6.2.3-*.whl -d silero
    python3 reference.py silero/silero_vad/data/silero_vad_16k.safetensors \
        hey-cabin-open-the-trunk.wav > reference.json
"""
import json
import struct
import sys
import wave

import numpy as np


def load_safetensors(path):
    raw = open(path, "rb").read()
    header_len = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + header_len])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        data = raw[8 + header_len + start:8 + header_len + end]
        tensors[name] = np.frombuffer(data, dtype=np.float32).reshape(info["shape"]).astype(np.float64)
    return tensors


def conv1d(x, weight, bias, stride, padding):
    """x [in, time], weight [out, in, k] -> [out, time']"""
    x = np.pad(x, ((0, 0), (padding, padding)))
    k = weight.shape[2]
    steps = (x.shape[1] - k) // stride + 1
    out = np.stack([np.tensordot(weight, x[:, t * stride:t * stride + k], axes=([1, 2], [0, 1])) for t in range(steps)], axis=1)
    return out if bias is None else out + bias[:, None]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def step(w, x, h, c):
    x = np.pad(x, (0, 64), mode="reflect")[None, :]
    x = conv1d(x, w["stft_conv.weight"], None, 128, 0)
    x = np.sqrt(x[:129] ** 2 + x[129:] ** 2)
    x = np.maximum(conv1d(x, w["conv1.weight"], w["conv1.bias"], 1, 1), 0)
    x = np.maximum(conv1d(x, w["conv2.weight"], w["conv2.bias"], 2, 1), 0)
    x = np.maximum(conv1d(x, w["conv3.weight"], w["conv3.bias"], 2, 1), 0)
    x = np.maximum(conv1d(x, w["conv4.weight"], w["conv4.bias"], 1, 1), 0)[:, 0]
    gates = w["lstm_cell.weight_ih"] @ x + w["lstm_cell.bias_ih"] + w["lstm_cell.weight_hh"] @ h + w["lstm_cell.bias_hh"]
    i, f, g, o = np.split(gates, 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    out = sigmoid(w["final_conv.weight"][:, :, 0] @ np.maximum(h, 0) + w["final_conv.bias"])
    return float(out[0]), h, c


weights_path, wav_path = sys.argv[1], sys.argv[2]
weights = load_safetensors(weights_path)
with wave.open(wav_path) as w:
    assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
    audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0

h, c = np.zeros(128), np.zeros(128)
context = np.zeros(64)
probabilities = []
for start in range(0, len(audio) - 511, 512):
    x = np.concatenate([context, audio[start:start + 512]])
    p, h, c = step(weights, x, h, c)
    context = x[-64:]
    probabilities.append(round(p, 6))
json.dump({"model": "silero_vad_16k.safetensors (silero-vad 6.2.3), numpy reference", "chunk": 512, "probabilities": probabilities}, sys.stdout)
print()
