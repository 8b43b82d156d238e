// @domvia/realtime-e2ee: participant-only encryption of realtime payloads with WebCrypto.
//
// Each device makes an ECDH P-256 key pair (private key non-extractable) and a random AES-256-GCM sender key.
// Devices announce their public keys on the room's channel (`client-e2ee.hello`); every member answers a newcomer
// with its sender key wrapped for that newcomer alone (`client-e2ee.key`): AES-GCM under a key derived with HKDF-SHA256
// from the two devices' ECDH secret. Payloads travel as envelopes `{v, alg, kid, iv, ct}`: the edge, its history, its
// logs and any other subscriber see only those. Room keys never leave a client unwrapped.
//
// What it does not do: authenticate devices. A member (or whoever can sign channel access) can announce a key;
// compare `fingerprint()` out of band when that matters.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PROTOCOL = "domvia-e2ee/v1";

// Browsers, Deno, Bun and Node 20+ have WebCrypto as `globalThis.crypto`; Node 18 has it as node:crypto's `webcrypto`.
const webcrypto = globalThis.crypto?.subtle
    ? globalThis.crypto
    : globalThis.process?.versions?.node
      ? (await import("node:crypto")).webcrypto
      : undefined;

/** The envelope version and algorithm this package writes and reads. */
export const ENVELOPE = Object.freeze({ v: 1, alg: "A256GCM" });

function subtle() {
    const value = webcrypto?.subtle;
    if (!value) throw new Error("@domvia/realtime-e2ee needs WebCrypto (a secure context: https:// or http://localhost)");
    return value;
}

/** Base64url without padding. */
export function toBase64url(bytes) {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    let binary = "";
    for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError("not base64url");
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
}

function randomId(bytes = 8) {
    return [...webcrypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `value` is an encrypted envelope this package can read (what the edge's `encrypted` rule demands). */
export function isEnvelope(value) {
    return (
        value !== null &&
        typeof value === "object" &&
        value.v === ENVELOPE.v &&
        value.alg === ENVELOPE.alg &&
        typeof value.kid === "string" &&
        typeof value.iv === "string" &&
        typeof value.ct === "string" &&
        /^[A-Za-z0-9_-]+$/.test(value.iv) &&
        /^[A-Za-z0-9_-]+$/.test(value.ct)
    );
}

/** A device identity: an ECDH P-256 key pair whose private half cannot be exported, and the public half as base64url. */
export async function generateIdentity() {
    const pair = await subtle().generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const publicKeyRaw = toBase64url(await subtle().exportKey("raw", pair.publicKey));
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeyRaw };
}

/** A random AES-256-GCM key (extractable only so that it can be wrapped for other members). */
export async function generateSenderKey() {
    return subtle().generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

/**
 * The AES-256-GCM key two devices share: ECDH(mine, theirs) → HKDF-SHA256 (salt: SHA-256 of `salt`, info: `info`).
 * Both sides derive the same key; neither ever sends it.
 */
export async function deriveSharedKey(privateKey, peerPublicKeyRaw, { salt = "", info = `${PROTOCOL} key-wrap` } = {}) {
    const peer = await subtle().importKey("raw", fromBase64url(peerPublicKeyRaw), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const secret = await subtle().deriveBits({ name: "ECDH", public: peer }, privateKey, 256);
    const hkdf = await subtle().importKey("raw", secret, "HKDF", false, ["deriveKey"]);
    const saltBytes = await subtle().digest("SHA-256", encoder.encode(salt));
    return subtle().deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: saltBytes, info: encoder.encode(info) },
        hkdf,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
    );
}

/** Encrypts the JSON of `value` under `key` (id `kid`), bound to `aad`: returns an envelope. */
export async function encryptJSON(key, kid, value, aad = "") {
    const iv = webcrypto.getRandomValues(new Uint8Array(12));
    const ct = await subtle().encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(aad) }, key, encoder.encode(JSON.stringify(value)));
    return { ...ENVELOPE, kid, iv: toBase64url(iv), ct: toBase64url(ct) };
}

/** Opens an envelope made by `encryptJSON` with the same `aad`; throws when it was altered or the key is wrong. */
export async function decryptJSON(key, envelope, aad = "") {
    if (!isEnvelope(envelope)) throw new TypeError("not an encrypted envelope");
    const plain = await subtle().decrypt(
        { name: "AES-GCM", iv: fromBase64url(envelope.iv), additionalData: encoder.encode(aad) },
        key,
        fromBase64url(envelope.ct),
    );
    return JSON.parse(decoder.decode(plain));
}

/** A short SHA-256 fingerprint of a public key, for comparing devices out of band. */
export async function fingerprint(publicKeyRaw) {
    const digest = new Uint8Array(await subtle().digest("SHA-256", fromBase64url(publicKeyRaw)));
    return [...digest.slice(0, 10)].map((b) => b.toString(16).padStart(2, "0")).join("").replace(/(.{4})(?!$)/g, "$1 ");
}

/**
 * End-to-end encryption for one channel (a chat room, a call in strong-privacy mode).
 *
 *   const e2ee = new RoomEncryption(channel, { roomId: "room-42", userId: "user-1" });
 *   await e2ee.start();
 *   const envelope = await e2ee.encrypt({ text: "hi" }, "aad");
 *   const value = await e2ee.decrypt(envelope, "aad");   // waits for the sender's key if it has not arrived yet
 */
/**
 * A `waitUntilReady` for something built on `channel`: resolves with `owner` once subscribed and, with `e2ee`, once this
 * device's keys are made and announced. One attempt runs at a time; after a failure the next call tries again.
 */
export function readiness(channel, e2ee, owner) {
    let ready = null;
    return ({ timeoutMs } = {}) => {
        if (!ready) {
            ready = (async () => {
                await channel.whenSubscribed(timeoutMs ? { timeoutMs } : undefined);
                if (e2ee) await e2ee.start();
                return owner;
            })();
            ready.catch(() => {
                ready = null;
            });
        }
        return ready;
    };
}

export class RoomEncryption {
    /**
     * @param {object} channel a subscribed `RealtimeChannel` (client events on)
     * @param {object} options `roomId` (binds wrapped keys to the room), `userId`, `keyWaitMs` (default 10 s)
     */
    constructor(channel, { roomId, userId, deviceId, keyWaitMs = 10_000 } = {}) {
        this.channel = channel;
        this.roomId = String(roomId ?? channel.name);
        this.userId = userId ?? null;
        this.deviceId = deviceId || randomId();
        this.keyWaitMs = keyWaitMs;
        this.keys = new Map();
        this.keyWaiters = new Map();
        this.peers = new Map();
        this.started = null;
        this.unbind = [];
    }

    /** Makes this device's keys, listens for other members' keys and announces itself; resolves when ready to encrypt. */
    start() {
        if (!this.started) this.started = this.setUp();
        return this.started;
    }

    async setUp() {
        this.identity = await generateIdentity();
        this.senderKey = await generateSenderKey();
        this.kid = `${this.deviceId}.${randomId(4)}`;
        this.keys.set(this.kid, this.senderKey);
        this.unbind.push(this.channel.bind("client-e2ee.hello", (data) => this.onHello(data)));
        this.unbind.push(this.channel.bind("client-e2ee.key", (data) => this.onKey(data)));
        // Announce again after every (re)subscription, so members that missed a key while away get it again.
        this.unbind.push(this.channel.bind("subscribed", () => this.announce()));
        if (this.channel.subscribed) await this.announce();
        return this;
    }

    announce() {
        return this.channel
            .trigger("client-e2ee.hello", { device_id: this.deviceId, user_id: this.userId, public_key: this.identity.publicKeyRaw })
            .catch((error) => this.channel.emit("error", error, {}));
    }

    /** This device's public-key fingerprint. */
    fingerprint() {
        return fingerprint(this.identity.publicKeyRaw);
    }

    wrapAAD(from, to, kid) {
        return `${PROTOCOL}|${this.roomId}|${from}|${to}|${kid}`;
    }

    async sendKeyTo(deviceId, publicKeyRaw) {
        const peer = this.peers.get(deviceId) || {};
        peer.publicKeyRaw = publicKeyRaw;
        peer.sent = true;
        this.peers.set(deviceId, peer);
        const shared = await deriveSharedKey(this.identity.privateKey, publicKeyRaw, { salt: this.roomId });
        const raw = new Uint8Array(await subtle().exportKey("raw", this.senderKey));
        const iv = webcrypto.getRandomValues(new Uint8Array(12));
        const wrapped = await subtle().encrypt(
            { name: "AES-GCM", iv, additionalData: encoder.encode(this.wrapAAD(this.deviceId, deviceId, this.kid)) },
            shared,
            raw,
        );
        raw.fill(0);
        await this.channel.trigger("client-e2ee.key", {
            to: deviceId,
            from: this.deviceId,
            user_id: this.userId,
            public_key: this.identity.publicKeyRaw,
            kid: this.kid,
            iv: toBase64url(iv),
            wrapped: toBase64url(wrapped),
        });
    }

    async onHello(data) {
        if (!data || data.device_id === this.deviceId || typeof data.public_key !== "string") return;
        await this.started;
        try {
            await this.sendKeyTo(String(data.device_id), data.public_key);
        } catch (error) {
            this.channel.emit("error", error, {});
        }
    }

    async onKey(data) {
        if (!data || data.to !== this.deviceId || typeof data.public_key !== "string") return;
        // A key id names its device; a key already known is never replaced (no member can take over another's id).
        if (typeof data.kid !== "string" || !data.kid.startsWith(`${data.from}.`) || this.keys.has(data.kid)) return;
        await this.started;
        try {
            const shared = await deriveSharedKey(this.identity.privateKey, data.public_key, { salt: this.roomId });
            const raw = await subtle().decrypt(
                { name: "AES-GCM", iv: fromBase64url(data.iv), additionalData: encoder.encode(this.wrapAAD(data.from, this.deviceId, data.kid)) },
                shared,
                fromBase64url(data.wrapped),
            );
            const key = await subtle().importKey("raw", raw, { name: "AES-GCM" }, false, ["decrypt"]);
            new Uint8Array(raw).fill(0);
            this.keys.set(String(data.kid), key);
            for (const waiter of this.keyWaiters.get(String(data.kid)) || []) waiter(key);
            this.keyWaiters.delete(String(data.kid));
            // A member we have not given our key yet (it spoke before we arrived): answer with ours.
            if (!this.peers.get(String(data.from))?.sent) await this.sendKeyTo(String(data.from), data.public_key);
        } catch (error) {
            this.channel.emit("error", Object.assign(new Error(`could not open the key from ${data.from}: ${error.message}`), { cause: error }), {});
        }
    }

    keyFor(kid) {
        const key = this.keys.get(kid);
        if (key) return Promise.resolve(key);
        return new Promise((resolve, reject) => {
            const waiter = (found) => {
                clearTimeout(timer);
                resolve(found);
            };
            const timer = setTimeout(() => {
                const waiters = this.keyWaiters.get(kid) || [];
                this.keyWaiters.set(
                    kid,
                    waiters.filter((w) => w !== waiter),
                );
                reject(new Error(`no key ${kid} after ${this.keyWaitMs} ms (its sender left, or has not shared it with this device)`));
            }, this.keyWaitMs);
            this.keyWaiters.set(kid, [...(this.keyWaiters.get(kid) || []), waiter]);
        });
    }

    /** Encrypts `value` with this device's sender key, bound to `aad` (a chat room binds the channel and message id). */
    async encrypt(value, aad = "") {
        await this.start();
        return encryptJSON(this.senderKey, this.kid, value, aad);
    }

    /** Decrypts an envelope from any member, waiting up to `keyWaitMs` for that member's key. */
    async decrypt(envelope, aad = "") {
        if (!isEnvelope(envelope)) throw new TypeError("refusing a payload that is not an encrypted envelope");
        await this.start();
        return decryptJSON(await this.keyFor(envelope.kid), envelope, aad);
    }

    /** Stops listening; forgets every key. */
    close() {
        for (const stop of this.unbind) stop();
        this.unbind = [];
        this.keys.clear();
        this.peers.clear();
    }
}

export default RoomEncryption;
