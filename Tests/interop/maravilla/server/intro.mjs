// The seed's opening server-side snippet, verbatim between the markers.
import { getPlatform } from '@maravilla-labs/platform';
const platform = getPlatform();
// --- seed ---
// Server-side: publish a message to a channel
await platform.realtime.publish('chat:lobby', {
  text: 'Hello everyone!',
}, { userId: 'alice' });

// Server-side: check who's online
const members = await platform.realtime.presence.members('chat:lobby');
// --- harness ---
console.log(JSON.stringify({ members }));
