// The link the car's QR code holds: cabin://pair?broker=…&vehicle=…&code=…
export function fromPairingLink(text) {
  if (!text.startsWith('cabin://pair?')) return null;
  const query = new URLSearchParams(text.slice('cabin://pair?'.length));
  const code = query.get('code');
  if (!code) return null;
  // The link's `broker` is the car's MQTT address; a browser can use it only if it is a WebSocket.
  const broker = query.get('broker');
  return { code, vehicle: query.get('vehicle'), broker: broker && /^wss?:\/\//.test(broker) ? broker : null };
}
