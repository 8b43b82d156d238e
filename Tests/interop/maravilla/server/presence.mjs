// The seed's server-side presence examples (join, update, leave, members), verbatim between the markers, then the
// documented return values checked by the harness.
import { getPlatform } from '@maravilla-labs/platform';
const platform = getPlatform();
// --- seed ---
const isNew = await platform.realtime.presence.join('chat:lobby', 'alice', {
  name: 'Alice',
  avatar: '/avatars/alice.png',
});

// Update a user's status or state
await platform.realtime.presence.update('chat:lobby', 'alice', {
  name: 'Alice',
  status: 'away',
});

const members = await platform.realtime.presence.members('chat:lobby');
// [
//   { userId: 'alice', metadata: { name: 'Alice' }, lastSeen: 1710000000 },
//   { userId: 'bob', metadata: null, lastSeen: 1710000005 }
// ]

await platform.realtime.presence.leave('chat:lobby', 'alice');
// --- harness ---
const afterLeave = await platform.realtime.presence.members('chat:lobby');
const joinAgain = await platform.realtime.presence.join('chat:lobby', 'bob');
const joinTwice = await platform.realtime.presence.join('chat:lobby', 'bob');
const updateAbsent = await platform.realtime.presence.update('chat:lobby', 'carol', { name: 'Carol' });
const updatePresent = await platform.realtime.presence.update('chat:lobby', 'bob', { name: 'Bob' });
const leavePresent = await platform.realtime.presence.leave('chat:lobby', 'bob');
const leaveAbsent = await platform.realtime.presence.leave('chat:lobby', 'bob');
console.log(JSON.stringify({ isNew, members, afterLeave, joinAgain, joinTwice, updateAbsent, updatePresent, leavePresent, leaveAbsent,
  now: Math.floor(Date.now() / 1000) }));
