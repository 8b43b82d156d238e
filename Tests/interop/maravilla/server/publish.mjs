// The seed's "publish(channel, data, options?)" examples, verbatim between the markers.
import { getPlatform } from '@maravilla-labs/platform';
const platform = getPlatform();
// --- seed ---
// Simple message
await platform.realtime.publish('notifications', {
  title: 'New comment',
  body: 'Alice replied to your post',
});

// Message with sender identity
await platform.realtime.publish('chat:general', {
  text: 'Hello!',
}, { userId: 'alice' });
// --- harness ---
console.log(JSON.stringify({ done: true }));
