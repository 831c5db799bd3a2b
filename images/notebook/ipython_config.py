# IPython's configuration of the notebook environment (sys.prefix/etc/ipython: every IPython and every
# kernel of /opt/jupyter reads it before the user's own profile). The Slurm magics are loaded in every
# kernel: %squeue, %sinfo, %sacct, %sbatch and %%sbatch, %scancel, %scontrol (packages/slurm-magics).
# Appended, so a user's own `extensions` setting adds to it rather than replacing it.
c = get_config()  # noqa: F821  (IPython's config loader defines get_config)
c.InteractiveShellApp.extensions.append("slurm_magic")
