// What the app keeps in this browser's storage: the paired cars and, per car, when it was last
// seen, its hand-off cards, reminders and event feed.
export const store = {
  cars: () => JSON.parse(localStorage.getItem('cabin.cars') || '[]'),
  saveCars: (cars) => localStorage.setItem('cabin.cars', JSON.stringify(cars)),
  current: () => localStorage.getItem('cabin.current'),
  setCurrent: (vehicle) => localStorage.setItem('cabin.current', vehicle),
  lastSeen: (vehicle) => Number(localStorage.getItem(`cabin.last-seen.${vehicle}`)) || null,
  sawCar: (vehicle) => localStorage.setItem(`cabin.last-seen.${vehicle}`, String(Math.floor(Date.now() / 1000))),
  handoffs: (vehicle) => JSON.parse(localStorage.getItem(`cabin.handoffs.${vehicle}`) || '[]'),
  saveHandoffs: (vehicle, list) => localStorage.setItem(`cabin.handoffs.${vehicle}`, JSON.stringify(list)),
  answeredHandoffs: (vehicle) => JSON.parse(localStorage.getItem(`cabin.handoffs-answered.${vehicle}`) || '[]'),
  saveAnsweredHandoffs: (vehicle, ids) => localStorage.setItem(`cabin.handoffs-answered.${vehicle}`, JSON.stringify(ids.slice(0, 500))),
  reminders: (vehicle) => JSON.parse(localStorage.getItem(`cabin.reminders.${vehicle}`) || '[]'),
  saveReminders: (vehicle, list) => localStorage.setItem(`cabin.reminders.${vehicle}`, JSON.stringify(list)),
  feed: (vehicle) => JSON.parse(localStorage.getItem(`cabin.feed.${vehicle}`) || '[]'),
  saveFeed: (vehicle, feed) => localStorage.setItem(`cabin.feed.${vehicle}`, JSON.stringify(feed.slice(0, 200))),
};
