// The seed's "Example: Live Chat / Client Component" script section, verbatim (the page defines `$state`; `svelte` is
// a shim whose onMount runs the callback once the module has run). The harness at the end exposes the component state.
// src/lib/Chat.svelte (script section)
import { RealtimeClient } from '@maravilla-labs/platform';
import { onMount, onDestroy } from 'svelte';

let messages = $state([]);
let onlineMembers = $state([]);
let input = $state('');
const roomId = 'general';

const client = new RealtimeClient();

onMount(async () => {
  // Load initial messages
  const res = await fetch(`/api/chat/${roomId}`);
  const data = await res.json();
  messages = data.messages;
  onlineMembers = data.members;

  // Connect and subscribe
  client.connect();

  client.subscribe(`chat:${roomId}`, (event) => {
    if (event.data?.type === 'message') {
      messages = [...messages, event.data];
    }
  });

  // Track presence
  const presence = client.presence(`chat:${roomId}`);
  presence.onJoin((member) => {
    onlineMembers = [...onlineMembers, member];
  });
  presence.onLeave((member) => {
    onlineMembers = onlineMembers.filter(m => m.userId !== member.userId);
  });

  // Join presence via server
  await fetch(`/api/chat/${roomId}/join`, {
    method: 'POST',
    body: JSON.stringify({ userId: 'current-user', userName: 'You' }),
  });
});

onDestroy(() => {
  client.disconnect();
});

async function sendMessage() {
  if (!input.trim()) return;
  await fetch(`/api/chat/${roomId}`, {
    method: 'POST',
    body: JSON.stringify({ text: input, userId: 'current-user', userName: 'You' }),
  });
  input = '';
}

// Test harness: the component's state and its send button.
window.chat = {
  get messages() { return messages; },
  get onlineMembers() { return onlineMembers; },
  get connected() { return client.isConnected(); },
  send(text) { input = text; return sendMessage(); },
};
