import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { noticesPlugin } from './notices';
import { submitPlugin } from './submit';

// What the server extension says of the server's own Slurm job (GET <base>/hpc-job-clock/job).
interface JobTime {
  job_id: string;
  end: number | null;   // epoch seconds, null when Slurm gives none (no time limit)
  now: number;          // the server's clock, so that a skewed browser clock does not matter
}

const WARN_AT_MINUTES = [10, 2];

function format(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m.toString().padStart(2, '0')} min` : `${m} min ${(s % 60).toString().padStart(2, '0')} s`;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'hpc-job-clock:plugin',
  description: 'The time left in the server\'s Slurm job, and warnings before it ends',
  autoStart: true,
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null) => {
    const settings = ServerConnection.makeSettings();
    const url = URLExt.join(settings.baseUrl, 'hpc-job-clock', 'job');
    const node = document.createElement('span');
    node.className = 'hpc-job-clock';
    node.title = 'Time left in this server\'s Slurm job';
    const item = new Widget({ node });
    item.id = 'hpc-job-clock';
    if (statusBar) {
      statusBar.registerStatusItem('hpc-job-clock:status', { item, align: 'left', rank: 100 });
    }
    let offset = 0;     // server clock - browser clock, seconds
    let end: number | null = null;
    let job = '';
    const warned = new Set<number>();
    const refresh = async () => {
      try {
        const reply = await ServerConnection.makeRequest(url, {}, settings);
        if (!reply.ok) { return; }
        const data = (await reply.json()) as JobTime;
        offset = data.now - Date.now() / 1000;
        end = data.end;
        job = data.job_id;
      } catch {
        // the server is restarting or gone: keep the last known end
      }
    };
    const tick = () => {
      if (end === null) { node.textContent = job ? `Job ${job}: no time limit` : ''; return; }
      const left = end - (Date.now() / 1000 + offset);
      node.textContent = `Job ${job}: ${format(left)} left`;
      node.dataset.secondsLeft = String(Math.floor(left));
      // One warning per threshold crossed; a server that starts with 3 minutes left gets one, not two.
      const due = WARN_AT_MINUTES.filter(minutes => left > 0 && left <= minutes * 60 && !warned.has(minutes));
      if (due.length > 0) {
        due.forEach(minutes => warned.add(minutes));
        Notification.warning(
          `This server's Slurm job ${job} ends in ${format(left)}: save your work. ` +
          'Unsaved changes are lost when the job ends.',
          { autoClose: false }
        );
      }
    };
    void refresh().then(tick);
    setInterval(() => void refresh(), 60_000);   // the time limit may change (scontrol update)
    setInterval(tick, 1_000);
  }
};

export default [plugin, submitPlugin, noticesPlugin];
