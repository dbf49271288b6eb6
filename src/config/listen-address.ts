// A HOST:PORT to listen on, as rclone's --metrics-addr and --rc-addr take it: `127.0.0.1:9100`,
// `localhost:9100`, `[::1]:9100`, or `:9100` for every interface. Only the syntax is checked
// here; whether the address can be had is known when it is bound (src/metrics/endpoint.ts).

export interface ListenAddress {
  /** '' = every interface */
  host: string;
  /** 0 = any free port (the one chosen is logged) */
  port: number;
}

/** `text` → the address; throws an Error saying what is wrong (the caller names the flag). */
export function parseListenAddress(text: string): ListenAddress {
  const t = text.trim();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(t);
  if (!m) throw new Error(`invalid ${JSON.stringify(text)}: expected HOST:PORT or :PORT, e.g. 127.0.0.1:9100`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid ${JSON.stringify(text)}: the port must be 0 to 65535`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** the address as HOST:PORT again (an IPv6 host in brackets) */
export function formatListenAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
