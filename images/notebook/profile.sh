# Jupyter environment of hpc-jupyterhub-deploy: its tools come first in login shells and Slurm jobs.
case ":${PATH}:" in
  *:/opt/jupyter/bin:*) ;;
  *) PATH="/opt/jupyter/bin:${PATH}"; export PATH ;;
esac
