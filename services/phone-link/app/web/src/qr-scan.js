// Scanning the QR code `cabin pair` shows, with the phone's camera: frames go through jsQR until
// one holds a pairing link. Nothing leaves the page; the stream stops as soon as a link is read.
import jsQR from 'jsqr';
import { fromPairingLink } from './pairing-link.js';

const EVERY_MS = 150;

/** Starts the camera into `video`; resolves with the pairing link read, or null when stopped. */
export function scanPairingLink(video) {
  let stopped = false;
  let stream = null;
  let timer = null;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    if (stream) for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const found = (async () => {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    if (stopped) return stop(), null;
    video.srcObject = stream;
    await video.play();
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });
    return new Promise((resolve) => {
      const look = () => {
        if (stopped) return resolve(null);
        if (video.videoWidth > 0) {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0);
          const frame = context.getImageData(0, 0, canvas.width, canvas.height);
          const code = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'attemptBoth' });
          const link = code && fromPairingLink(code.data);
          if (link) {
            stop();
            return resolve(link);
          }
        }
        timer = setTimeout(look, EVERY_MS);
      };
      look();
    });
  })();
  found.catch(stop);
  return { found, stop };
}
