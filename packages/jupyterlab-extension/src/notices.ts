import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

// The service's notices, as the server extension asks them of the hub (GET <base>/hpc-job-clock/notices).
interface Notices {
  maintenance: { message: string; until: string } | null;
  announcements: { message: string; by: string; at: string }[];
}

const SEEN_KEY = 'hpc-notices:seen';
const EVERY_MS = 60_000;

function seen(): Set<string> {
  try {
    return new Set(JSON.parse(window.localStorage.getItem(SEEN_KEY) ?? '[]') as string[]);
  } catch {
    return new Set();
  }
}

/** Each announcement and maintenance notice once per browser, as a notification that stays until closed. */
export const noticesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'hpc-job-clock:notices',
  description: 'The service\'s announcements and maintenance notices, as notifications',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const settings = ServerConnection.makeSettings();
    const url = URLExt.join(settings.baseUrl, 'hpc-job-clock', 'notices');
    const check = async () => {
      let notices: Notices;
      try {
        const reply = await ServerConnection.makeRequest(url, {}, settings);
        if (!reply.ok) { return; }
        notices = (await reply.json()) as Notices;
      } catch {
        return;   // the server or the hub is restarting: ask again later
      }
      const shown = seen();
      const texts: [string, 'warning' | 'info'][] = [];
      if (notices.maintenance) {
        const until = notices.maintenance.until ? ` (until ${notices.maintenance.until})` : '';
        texts.push([`Maintenance${until}: ${notices.maintenance.message}`, 'warning']);
      }
      notices.announcements.forEach(note => texts.push([`Announcement: ${note.message}`, 'info']));
      for (const [text, kind] of texts) {
        if (shown.has(text)) { continue; }
        shown.add(text);
        Notification.emit(text, kind, { autoClose: false });
      }
      window.localStorage.setItem(SEEN_KEY, JSON.stringify([...shown].slice(-50)));
    };
    // After the layout is restored: every plugin is active then, the one that shows notifications as toasts too
    // (one emitted earlier is only counted in the status bar).
    void app.restored.then(check);
    setInterval(() => void check(), EVERY_MS);
  }
};
