/** A synchronous stand-in for MessageChannel in the Kernel client's unit tests (a real one delivers later). */
import type { ChannelLike, PortLike } from '../../../src/widgets/notebook/kernel';

export class FakePort implements PortLike {
  other!: FakePort;
  closed = false;
  onmessage: ((e: MessageEvent) => void) | null = null;
  postMessage(msg: unknown) {
    if (!this.closed && !this.other.closed) this.other.onmessage?.({ data: msg } as MessageEvent);
  }
  close() {
    this.closed = true;
  }
}

export function fakeChannel(): ChannelLike & { port2: FakePort } {
  const port1 = new FakePort();
  const port2 = new FakePort();
  port1.other = port2;
  port2.other = port1;
  return { port1, port2 };
}
