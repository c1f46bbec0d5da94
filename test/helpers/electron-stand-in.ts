// A recording stand-in for Electron's main-process API, so the BUILT dist/electron-main.cjs runs in
// CI (these machines have no Electron binary). `require('electron')` is hooked to return it. Every
// object is strict: touching an API it does not model throws (no silent no-ops), so a main.ts that
// starts using something new fails here until the stand-in models it — this is the only run the
// main process gets in CI, it must be able to fail.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Wraps `target` so that reading any property it does not have throws. */
function strict<T extends object>(name: string, target: T): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === 'symbol' || prop in t) return Reflect.get(t, prop, receiver) as unknown;
      throw new Error(
        `electron stand-in: ${name}.${prop} is not modelled (model it in test/helpers/electron-stand-in.ts)`,
      );
    },
  });
}

export interface FakeMenuItem {
  type?: string;
  id?: string;
  label?: string;
  enabled?: boolean;
  checked?: boolean;
  submenu?: FakeMenuItem[];
  click?: () => void;
}

export class FakeWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  windowOpenHandler: ((d: { url: string }) => { action: string }) | null = null;
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.windowOpenHandler = h;
  }
  isDevToolsOpened(): boolean {
    return false;
  }
  /** What Electron does before navigating: true when a listener prevented it. */
  tryNavigate(event: 'will-navigate' | 'will-redirect', url: string): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

export interface StandIn {
  /** every call into the stand-in, in order: "Tray.setImage /x/tray-active.png" */
  calls: string[];
  electron: Record<string, unknown>;
  app: EventEmitter & {
    quitCount: number;
    exitCode: number | null;
    loginItem: { openAtLogin: boolean } | null;
    protocolClients: string[];
  };
  trays: (EventEmitter & { image: { path: string }; menu: FakeMenuItem[] | null; menuSets: number; tooltip: string })[];
  windows: (EventEmitter & {
    options: Record<string, unknown>;
    webContents: FakeWebContents;
    urls: string[];
    visible: boolean;
  })[];
  ipc: Map<string, (event: unknown, input: unknown) => Promise<unknown>>;
  notifications: (EventEmitter & { title: string; body: string; shown: boolean })[];
  errorBoxes: { title: string; content: string }[];
  externalOpened: string[];
  powerMonitor: EventEmitter;
  sessions: Map<
    string,
    { permissionRequest: unknown; permissionCheck: unknown; devicePermission: unknown; downloadsBlocked: boolean }
  >;
  schemes: unknown[];
  protocolHandlers: Map<string, (req: { url: string }) => Promise<Response>>;
}

export function createStandIn(appPath: string, opts: { singleInstance?: boolean } = {}): StandIn {
  const calls: string[] = [];
  const rec = (s: string) => calls.push(s);
  const s = {} as StandIn;
  s.calls = calls;
  s.ipc = new Map();
  s.trays = [];
  s.windows = [];
  s.notifications = [];
  s.errorBoxes = [];
  s.externalOpened = [];
  s.sessions = new Map();
  s.schemes = [];
  s.protocolHandlers = new Map();

  let ready = false;
  let quitting = false;
  const app = Object.assign(new EventEmitter(), {
    quitCount: 0,
    exitCode: null as number | null,
    loginItem: null as { openAtLogin: boolean } | null,
    protocolClients: [] as string[],
    isPackaged: false,
    // Linux: there is no dock
    dock: undefined,
    getAppPath: () => appPath,
    enableSandbox: () => rec('app.enableSandbox'),
    requestSingleInstanceLock: () => {
      rec('app.requestSingleInstanceLock');
      return opts.singleInstance !== false;
    },
    whenReady: async () => {
      ready = true;
      rec('app.whenReady');
    },
    isReady: () => ready,
    setAsDefaultProtocolClient: (scheme: string) => {
      app.protocolClients.push(scheme);
      return true;
    },
    setLoginItemSettings: (v: { openAtLogin: boolean }) => {
      app.loginItem = v;
    },
    exit: (code: number) => {
      rec(`app.exit ${code}`);
      app.exitCode = code;
    },
    // Electron: will-quit may be prevented; otherwise the app quits
    quit: () => {
      rec('app.quit');
      if (quitting) return;
      let prevented = false;
      app.emit('will-quit', { preventDefault: () => (prevented = true) });
      if (!prevented) {
        quitting = true;
        app.quitCount++;
        app.emit('quit');
      }
    },
  });
  s.app = app;

  const sessionFor = (name: string) => {
    const st = {
      permissionRequest: null as unknown,
      permissionCheck: null as unknown,
      devicePermission: null as unknown,
      downloadsBlocked: false,
    };
    s.sessions.set(name, st);
    const ses = Object.assign(new EventEmitter(), {
      setPermissionRequestHandler: (h: unknown) => (st.permissionRequest = h),
      setPermissionCheckHandler: (h: unknown) => (st.permissionCheck = h),
      setDevicePermissionHandler: (h: unknown) => (st.devicePermission = h),
    });
    ses.on('newListener', (ev: string) => {
      if (ev === 'will-download') st.downloadsBlocked = true;
    });
    return strict(`session(${name})`, ses);
  };
  const sessions = new Map<string, ReturnType<typeof sessionFor>>();
  const session = {
    get defaultSession() {
      if (!sessions.has('default')) sessions.set('default', sessionFor('default'));
      return sessions.get('default')!;
    },
    fromPartition: (p: string) => {
      if (!sessions.has(p)) sessions.set(p, sessionFor(p));
      return sessions.get(p)!;
    },
  };

  class Tray extends EventEmitter {
    image: { path: string };
    menu: FakeMenuItem[] | null = null;
    /** how many times a menu was set (each update of the agent's state rebuilds it) */
    menuSets = 0;
    tooltip = '';
    private destroyed = false;
    constructor(image: { path: string }) {
      super();
      this.image = image;
      rec(`Tray ${image.path}`);
      s.trays.push(this);
      return strict('Tray', this);
    }
    setImage(image: { path: string }): void {
      rec(`Tray.setImage ${image.path}`);
      this.image = image;
    }
    setToolTip(t: string): void {
      this.tooltip = t;
    }
    setContextMenu(m: { items: FakeMenuItem[] }): void {
      this.menu = m.items;
      this.menuSets++;
    }
    popUpContextMenu(): void {
      rec('Tray.popUpContextMenu');
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    destroy(): void {
      this.destroyed = true;
    }
    getBounds() {
      return { x: 1800, y: 0, width: 24, height: 24 };
    }
  }

  class BrowserWindow extends EventEmitter {
    options: Record<string, unknown>;
    webContents: FakeWebContents;
    urls: string[] = [];
    visible = false;
    private destroyed = false;
    private pos: [number, number] = [0, 0];
    constructor(options: Record<string, unknown>) {
      super();
      this.options = options;
      this.webContents = strict('webContents', new FakeWebContents());
      s.windows.push(this);
      rec('BrowserWindow');
      app.emit('web-contents-created', {}, this.webContents);
      return strict('BrowserWindow', this);
    }
    async loadURL(url: string): Promise<void> {
      rec(`BrowserWindow.loadURL ${url}`);
      this.urls.push(url);
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    destroy(): void {
      this.destroyed = true;
      this.emit('closed');
    }
    getSize(): [number, number] {
      return [Number(this.options.width ?? 400), Number(this.options.height ?? 560)];
    }
    setPosition(x: number, y: number): void {
      this.pos = [x, y];
    }
    getPosition(): [number, number] {
      return this.pos;
    }
    show(): void {
      this.visible = true;
    }
    hide(): void {
      this.visible = false;
    }
    focus(): void {}
    isVisible(): boolean {
      return this.visible;
    }
    setMenuBarVisibility(): void {}
  }

  class Notification extends EventEmitter {
    static isSupported(): boolean {
      return true;
    }
    title: string;
    body: string;
    shown = false;
    constructor(o: { title: string; body: string }) {
      super();
      this.title = o.title;
      this.body = o.body;
      s.notifications.push(this);
      return strict('Notification', this);
    }
    show(): void {
      this.shown = true;
    }
  }

  s.powerMonitor = strict('powerMonitor', new EventEmitter());

  const electron: Record<string, unknown> = {
    app: strict('app', app),
    Tray,
    BrowserWindow,
    Notification,
    Menu: strict('Menu', {
      buildFromTemplate: (items: FakeMenuItem[]) => strict('Menu instance', { items }),
    }),
    nativeImage: strict('nativeImage', {
      createFromPath: (p: string) => strict('NativeImage', { path: p, setTemplateImage: () => undefined }),
    }),
    ipcMain: strict('ipcMain', {
      handle: (channel: string, fn: (event: unknown, input: unknown) => Promise<unknown>) => {
        if (s.ipc.has(channel)) throw new Error(`electron stand-in: a second handler for ${channel}`);
        s.ipc.set(channel, fn);
      },
    }),
    protocol: strict('protocol', {
      registerSchemesAsPrivileged: (schemes: unknown[]) => {
        if (ready) throw new Error('electron stand-in: registerSchemesAsPrivileged after ready (Electron ignores it)');
        s.schemes.push(...schemes);
      },
      handle: (scheme: string, fn: (req: { url: string }) => Promise<Response>) => s.protocolHandlers.set(scheme, fn),
    }),
    session: strict('session', session),
    screen: strict('screen', {
      getCursorScreenPoint: () => ({ x: 100, y: 100 }),
      getDisplayNearestPoint: () => ({ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }),
    }),
    shell: strict('shell', {
      openExternal: async (url: string) => {
        s.externalOpened.push(url);
      },
    }),
    dialog: strict('dialog', {
      showErrorBox: (title: string, content: string) => {
        s.errorBoxes.push({ title, content });
      },
    }),
    powerMonitor: s.powerMonitor,
    net: strict('net', {
      // Electron's net.fetch reads file: URLs (the renderer's files); Node's fetch does not
      fetch: async (url: string) => {
        const u = new URL(url);
        if (u.protocol !== 'file:') throw new Error(`electron stand-in: net.fetch of ${u.protocol} is not modelled`);
        try {
          return new Response(fs.readFileSync(fileURLToPath(u)), { status: 200 });
        } catch {
          return new Response('not found', { status: 404 });
        }
      },
    }),
  };
  s.electron = strict('electron', electron);
  return s;
}

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const mod = Module as unknown as { _load: Loader };

/**
 * Loads a fresh copy of the built main process with `require('electron')` answered by the stand-in.
 * The hook stays for this one module load (main.ts requires electron at its top).
 */
export function loadMain(file: string, s: StandIn): void {
  const resolved = path.resolve(file);
  const original = mod._load;
  mod._load = function (request, parent, isMain) {
    if (request === 'electron') return s.electron;
    return original.call(this, request, parent, isMain);
  };
  try {
    delete require.cache[resolved];
    require(resolved);
  } finally {
    mod._load = original;
  }
}

/** Waits for a condition (polling on the event loop, never a fixed sleep); fails with `what`. */
export async function until<T>(what: string, check: () => T | undefined | null | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Flattened menu items (submenus included). */
export function flatMenu(items: FakeMenuItem[] | null): FakeMenuItem[] {
  return (items ?? []).flatMap((i) => [i, ...flatMenu(i.submenu ?? null)]);
}
