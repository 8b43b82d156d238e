// The seed's "Quick Start / Client Side", verbatim. Its last two lines ("Later: clean up") run when the test calls
// window.cleanUp(), since run in a row they would close the connection before it opened.
import { RealtimeClient } from '@maravilla-labs/platform';

const client = new RealtimeClient();
client.connect();

// Subscribe to a channel
const unsubscribe = client.subscribe('room:general', (event) => {
  console.log(event.data.text); // "Hello everyone!"
  console.log(event.userId);    // "alice"
});

// Publish from the client (relayed through the server)
client.publish('room:general', { text: 'Hi from browser!' });

// Later: clean up
window.cleanUp = () => {
unsubscribe();
client.disconnect();
};

window.client = client;
