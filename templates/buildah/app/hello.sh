# The app: runs as PID 1's child in the VM, its output is `make run`'s output.
echo "$GREETING from a buildah-built image, in a VM: $(/bin/busybox uname -sr)"
