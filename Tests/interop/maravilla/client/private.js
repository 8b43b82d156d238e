// The seed's "Private Channels / Client-side: pass the token", verbatim; then (test harness) a second client that
// subscribes without a token and prints the error event it gets.
import { RealtimeClient } from '@maravilla-labs/platform';

const client = new RealtimeClient();
client.connect();

// Fetch token from your server
const { token } = await fetch('/api/chat/vip/token').then(r => r.json());

// Subscribe with the token
client.subscribe('private-room:vip', (event) => {
  console.log(event.data);
}, { token });

// Test harness from here on.
const intruder = new RealtimeClient();
intruder.connect();
intruder.onAny((event) => {
  if (event.event === 'error') console.log('intruder', event);
});
intruder.subscribe('private-room:vip', (event) => console.log('intruder got', event.data));
window.client = client;
window.intruder = intruder;
