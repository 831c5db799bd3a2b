// Submitting batch scripts from JupyterLab: "Submit with sbatch" on a file in the file browser, and "Submit a
// batch script" (launcher, palette), a dialog whose text is saved as a script in the file browser's folder and
// submitted. jupyterlab-slurm 4.1.0's panel lists, holds, releases and cancels jobs but has no submission; its
// server's sbatch route (runs sbatch as the user, a script by path) is what we call.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { PathExt, URLExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ServerConnection } from '@jupyterlab/services';
import { runIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

const SUBMIT_FILE = 'hpc-slurm:submit-file';
const SUBMIT_TEXT = 'hpc-slurm:submit-text';
const TEMPLATE = `#!/bin/bash
#SBATCH --job-name=my-job
#SBATCH --time=10
#SBATCH --ntasks=1

srun hostname
`;

// What jupyterlab-slurm's POST <base>/jupyterlab_slurm/sbatch answers.
interface SbatchReply {
  success: boolean;
  responseMessage?: string;
  errorMessage?: string | null;
  data?: { jobId?: string };
}

/** Submit the script at `path` (relative to the server's root) with sbatch, from the script's folder. */
export async function sbatch(path: string): Promise<string> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'jupyterlab_slurm', 'sbatch');
  const body = JSON.stringify({ inputPath: PathExt.basename(path), outputPath: PathExt.dirname(path) || '.' });
  const reply = await ServerConnection.makeRequest(url, { method: 'POST', body }, settings);
  let answer: SbatchReply;
  try {
    answer = (await reply.json()) as SbatchReply;
  } catch {
    throw new Error(`the server answered ${reply.status} ${reply.statusText}`);
  }
  if (!reply.ok || !answer.success || !answer.data?.jobId) {
    throw new Error((answer.errorMessage || answer.responseMessage || reply.statusText).trim());
  }
  return answer.data.jobId;
}

async function submitAndTell(path: string): Promise<void> {
  try {
    const job = await sbatch(path);
    Notification.success(`Submitted batch job ${job} (${path}). The Slurm Dashboard lists it.`, { autoClose: 8000 });
  } catch (error) {
    Notification.error(`sbatch ${path}: ${(error as Error).message}`, { autoClose: false });
  }
}

function timestamp(): string {
  const now = new Date();
  const pad = (n: number) => n.toString().padStart(2, '0');
  return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-` +
    `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/** The dialog's body: the script's file name (in the file browser's folder) and its text. */
class ScriptForm extends Widget {
  constructor(folder: string) {
    super();
    this.addClass('hpc-slurm-submit');
    const where = document.createElement('label');
    where.textContent = `Saved in ${folder || 'your home folder'} as `;
    this.name = document.createElement('input');
    this.name.name = 'script-name';
    this.name.value = `sbatch-${timestamp()}.sh`;
    where.appendChild(this.name);
    this.text = document.createElement('textarea');
    this.text.name = 'script-text';
    this.text.rows = 14;
    this.text.cols = 72;
    this.text.spellcheck = false;
    this.text.value = TEMPLATE;
    this.text.style.fontFamily = 'var(--jp-code-font-family)';
    this.text.style.display = 'block';
    this.text.style.marginTop = '8px';
    this.node.append(where, this.text);
  }

  getValue(): { name: string; text: string } {
    return { name: this.name.value.trim(), text: this.text.value };
  }

  private name: HTMLInputElement;
  private text: HTMLTextAreaElement;
}

export const submitPlugin: JupyterFrontEndPlugin<void> = {
  id: 'hpc-job-clock:submit',
  description: 'Submit batch scripts to Slurm from the file browser and from a dialog',
  autoStart: true,
  requires: [IDefaultFileBrowser],
  optional: [ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    browser: IDefaultFileBrowser,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ) => {
    const selectedFiles = () => Array.from(browser.selectedItems()).filter(item => item.type !== 'directory');
    app.commands.addCommand(SUBMIT_FILE, {
      label: 'Submit with sbatch',
      caption: 'Submit the selected batch script to Slurm',
      icon: runIcon,
      isVisible: () => selectedFiles().length > 0,
      execute: async () => {
        for (const item of selectedFiles()) {
          await submitAndTell(item.path);
        }
      }
    });
    app.contextMenu.addItem({ command: SUBMIT_FILE, selector: '.jp-DirListing-item[data-isdir="false"]', rank: 3 });

    app.commands.addCommand(SUBMIT_TEXT, {
      label: args => (args.isLauncher ? 'Submit Batch Script' : 'Submit a batch script to Slurm'),
      caption: 'Write a batch script, save it and submit it with sbatch',
      icon: runIcon,
      execute: async () => {
        const folder = browser.model.path;
        const result = await showDialog({
          title: 'Submit a batch script',
          body: new ScriptForm(folder),
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
        });
        if (!result.button.accept || !result.value) {
          return;
        }
        const { name, text } = result.value;
        if (!name || name.includes('/')) {
          Notification.error(`Not a file name: "${name}"`, { autoClose: false });
          return;
        }
        const path = PathExt.join(folder, name);
        try {
          await app.serviceManager.contents.save(path, { type: 'file', format: 'text', content: text });
        } catch (error) {
          Notification.error(`Could not save ${path}: ${(error as Error).message}`, { autoClose: false });
          return;
        }
        await submitAndTell(path);
      }
    });
    launcher?.add({ command: SUBMIT_TEXT, category: 'HPC Tools', rank: 2, args: { isLauncher: true } });
    palette?.addItem({ command: SUBMIT_TEXT, category: 'Slurm' });
  }
};
