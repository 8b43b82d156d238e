// The seed's "Client-Side API" snippets, verbatim and in order. The lines that stop listening or leave ("Stop
// listening", "Leave when done") run when the test calls window.stop(); run in a row they would undo each step at once.
import { RealtimeClient } from '@maravilla-labs/platform';

const client = new RealtimeClient({
  debug: false,            // enable console logging
  autoReconnect: true,     // reconnect on disconnect (default: true)
  maxBackoffMs: 15000,     // max reconnect delay (default: 15s)
});

client.connect();

const unsubscribe = client.subscribe('chat:general', (event) => {
  console.log(event.event);   // "realtime.message"
  console.log(event.channel); // "chat:general"
  console.log(event.data);    // { text: "Hello!" }
  console.log(event.userId);  // "alice"
  console.log(event.ts);      // 1710000000000
});

client.publish('chat:general', {
  text: 'Hello from browser!',
}, { userId: 'bob' });

const presence = client.presence('chat:lobby');

// Join with metadata
presence.join('alice', { name: 'Alice', status: 'online' });

// Update metadata in-place (no leave/join cycle)
presence.update({ name: 'Alice', status: 'away' });

// Listen for others joining
const offJoin = presence.onJoin((member) => {
  console.log(`${member.userId} joined`, member.metadata);
});

// Listen for metadata updates
const offUpdate = presence.onUpdate((member) => {
  console.log(`${member.userId} updated`, member.metadata);
});

// Listen for others leaving
const offLeave = presence.onLeave((member) => {
  console.log(`${member.userId} left`);
});

client.onAny((event) => {
  console.log(`[${event.channel}] ${event.event}:`, event.data);
});

window.stop = () => {
// Stop listening
unsubscribe();

// Leave when done
presence.leave();
offJoin();
offUpdate();
offLeave();
};

window.client = client;
