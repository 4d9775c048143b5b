"""The programs inside the simulated kind node (and load balancer) image.

Each module is one program of a real node (``init`` for systemd, ``containerd``, ``ctr``,
``crictl``, ``kubeadm``, ``kubelet``, ``etcd``, ``kube-apiserver``, ...) reduced to what
kind and kubectl observe. They run on the image's Debian python3 (3.11) with only the
standard library and Debian's python3-yaml; the image's executables are two-line shims
that import ``insides.<module>`` and call ``main()``, so that a process's name (what
``pgrep --exact containerd`` matches) is the program's name.
"""
