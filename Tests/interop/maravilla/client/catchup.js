// The seed's "Message History / Client-side: catch-up on reconnect", verbatim (renderMessage is the page's).
import { RealtimeClient } from '@maravilla-labs/platform';

const client = new RealtimeClient();
client.connect();

// Store the last sequence number you received
let lastSeq = 0;

client.subscribe('chat:general', (event) => {
  if (event.data?.seq) lastSeq = event.data.seq;
  renderMessage(event.data);
}, { lastEventId: lastSeq });

// Test harness.
window.lastSeq = () => lastSeq;
window.client = client;
