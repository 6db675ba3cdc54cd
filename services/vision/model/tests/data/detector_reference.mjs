// Reference detections for the CenterNet detector, from TensorFlow.js itself running the
// package's graph, with the graph's own decoding (`tower_0/detections`: its max-pool peak
// test and TopK), so the candle side is checked against both the network and the decoding.
//
// The inputs are the committed 224x224 PNGs placed on a black 512x512 canvas without any
// resampling (one photo centred, and all four in a 2x2 mosaic), so neither side's resizing
// is part of the comparison; `inputs()` in tests/detector.rs builds the same canvases.
//
// Run once to produce detector_reference.json:
//
//     npm install @tensorflow/tfjs@4.22.0 pngjs@7.0.0     # in a scratch folder, then from it:
//     node detector_reference.mjs MODELS_DIR/centernet > detector_reference.json
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const tf = require('@tensorflow/tfjs');
const { PNG } = require('pngjs');

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 512;
const PHOTO = 224;
const MOSAIC = ['chelsea.png', 'coffee.png', 'astronaut.png', 'grace_hopper.png'];

function photo(name) {
  const png = PNG.sync.read(fs.readFileSync(path.join(here, name)));
  if (png.width !== PHOTO || png.height !== PHOTO) throw new Error(`${name} is not ${PHOTO}x${PHOTO}`);
  return png.data; // RGBA
}

function place(canvas, rgba, left, top) {
  for (let y = 0; y < PHOTO; y++) {
    for (let x = 0; x < PHOTO; x++) {
      for (let c = 0; c < 3; c++) canvas[((top + y) * SIZE + left + x) * 3 + c] = rgba[(y * PHOTO + x) * 4 + c];
    }
  }
}

function inputs() {
  const result = [];
  for (const name of MOSAIC) {
    const canvas = new Float32Array(SIZE * SIZE * 3);
    place(canvas, photo(name), (SIZE - PHOTO) / 2, (SIZE - PHOTO) / 2);
    result.push([name, canvas]);
  }
  const mosaic = new Float32Array(SIZE * SIZE * 3);
  const margin = (SIZE - 2 * PHOTO) / 2;
  MOSAIC.forEach((name, i) => place(mosaic, photo(name), margin + (i % 2) * PHOTO, margin + Math.floor(i / 2) * PHOTO));
  result.push(['mosaic', mosaic]);
  return result;
}

async function main() {
  const dir = process.argv[2];
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'centernet.json'), 'utf8'));
  const weightSpecs = model.weightsManifest.flatMap((group) => group.weights);
  const weightData = Buffer.concat(model.weightsManifest.flatMap((group) => group.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  await tf.setBackend('cpu');
  const graph = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs, weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength), format: model.format }),
  );
  const out = { tfjs: tf.version.tfjs, backend: tf.getBackend(), inputs: {} };
  for (const [name, canvas] of inputs()) {
    const x = tf.tensor4d(canvas, [1, SIZE, SIZE, 3]);
    const [detections, keypoints] = graph.execute(x, ['tower_0/detections', 'tower_0/keypoints']);
    const rows = await detections.array();
    const heat = await keypoints.data();
    // The 20 largest heatmap values with their flat index, to compare the network's maps.
    const order = Array.from(heat.keys()).sort((a, b) => heat[b] - heat[a]).slice(0, 20);
    out.inputs[name] = {
      // [x1, y1, x2, y2, score, class] in input pixels, the graph's own top 100, kept above 0.1.
      detections: rows[0].filter((row) => row[4] >= 0.1).map((row) => row.map((v) => Math.round(v * 1e5) / 1e5)),
      heatmap_top: order.map((i) => [i, Math.round(heat[i] * 1e6) / 1e6]),
    };
    tf.dispose([x, detections, keypoints]);
  }
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

main();
