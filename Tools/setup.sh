#!/usr/bin/env bash
# Installs the Debian packages the project needs. Safe to run again: apt-get skips what
# is installed. Runs as root or through sudo.
set -euo pipefail

packages=(
  ocl-icd-opencl-dev    # OpenCL ICD loader and headers (libOpenCL)
  opencl-headers        # CL/cl.h for the 1.2 API
  libclblast-dev        # CLBlast: tuned GEMM on OpenCL devices
  pocl-opencl-icd       # PoCL: an OpenCL driver for the CPU, so OpenCL runs without a GPU
  libopenblas-dev       # OpenBLAS: the CPU backend's GEMM
  zlib1g-dev            # zlib: reads the gzip-compressed IDX files of Fashion-MNIST
  libturbojpeg0-dev     # libjpeg-turbo's TurboJPEG API: decodes image-folder JPEGs, with DCT scaling
  libpng-dev            # libpng: decodes image-folder PNGs
  dataset-fashion-mnist # the default training data set
  clinfo                # lists OpenCL platforms, for diagnosing drivers
  oclgrind              # a strict, simulated OpenCL device: CI runs vit check --small under it
  libopenmpi-dev        # Open MPI's headers and libmpi: data-parallel vit train (mpirun -np N)
  openmpi-bin           # mpirun, which the data-parallel test launches
  pkg-config            # finds Open MPI's include and library folders (ompi.pc) for the build
  gnuplot-nox           # draws the PNG plots of vit compare and vit plot (pngcairo terminal, no X11 needed)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo_command=()
if [ "$(id -u)" -ne 0 ]; then sudo_command=(sudo); fi
echo "setup: installing ${missing[*]}"
"${sudo_command[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_command[@]}" apt-get install -y -qq "${missing[@]}"
