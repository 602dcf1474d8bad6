/**
 * The OpAMP WebSocket transport on the `ws` package: binary messages, each a varint header (0) and
 * the protobuf bytes (src/fleet/codec.ts frames them). Bounded: the opening handshake in time, each
 * message from the server in bytes (maxPayload).
 */
import WebSocket from 'ws';
import { frameWebSocket, unframeWebSocket } from '../codec.js';
import { describeNetError, ExchangeError } from './http.js';
import type { TlsOptions } from './types.js';

export class WsConnection {
  closeReason: string | null = null;
  onClose: () => void = () => undefined;

  private constructor(private readonly socket: WebSocket) {}

  static open(url: string, headers: Record<string, string>, tls: TlsOptions, timeoutMs: number, maxBytes: number, onMessage: (data: Uint8Array) => void, signal?: AbortSignal): Promise<WsConnection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, maxPayload: maxBytes, ...tls });
      // A stop while connecting ends the attempt at once.
      const abort = (): void => socket.terminate();
      signal?.addEventListener('abort', abort, { once: true });
      socket.once('close', () => signal?.removeEventListener('abort', abort));
      const conn = new WsConnection(socket);
      let opened = false;
      socket.on('open', () => {
        opened = true;
        resolve(conn);
      });
      socket.on('unexpected-response', (_req, res) => {
        socket.terminate();
        reject(new ExchangeError(`HTTP ${res.statusCode ?? 0} instead of a WebSocket`));
      });
      socket.on('error', (err) => {
        conn.closeReason = describeNetError(err);
        if (!opened) reject(new ExchangeError(conn.closeReason));
      });
      socket.on('close', (code, reason) => {
        conn.closeReason ??= `connection closed (${code}${reason.length ? `: ${reason.toString('utf8', 0, 200)}` : ''})`;
        conn.onClose();
      });
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) {
          conn.closeReason = 'the server sent a text message (OpAMP messages are binary)';
          socket.close(1003);
          return;
        }
        let payload: Uint8Array;
        try {
          payload = unframeWebSocket(new Uint8Array(data));
        } catch (err) {
          conn.closeReason = (err as Error).message;
          socket.close(1002);
          return;
        }
        onMessage(payload);
      });
    });
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(payload: Uint8Array): void {
    this.socket.send(frameWebSocket(payload), { binary: true });
  }

  /** Sends a last message and closes, within `timeoutMs`. */
  sendAndClose(payload: Uint8Array, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, timeoutMs);
      this.socket.send(frameWebSocket(payload), { binary: true }, () => {
        this.socket.close(1000);
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000);
    else this.socket.terminate();
  }
}
