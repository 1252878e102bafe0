"""Checks of the packaging files that this machine cannot build (no Spack; an Apptainer build takes
a root filesystem and ten minutes): that they still describe this source tree.

    python3 tests/packaging/check_packaging.py SOURCE_DIR

- packaging/spack/.../package.py: valid Python; the class a Spack repository expects; its version is
  the project's; every CMake variable it defines is one CMakeLists.txt declares; it has the variants
  the README names.
- packaging/apptainer/kmdflow.def: every %files source exists, every directory the top-level
  CMakeLists.txt adds is copied, the scripts %post calls exist, and %post is valid shell.
Prints what it checked; exits 1 with the first mismatch.
"""

import ast
import pathlib
import re
import subprocess
import sys


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def cmake_variables(cmake_lists):
    """The cache variables the project declares (option() and set(... CACHE ...))."""
    text = cmake_lists.read_text()
    names = set(re.findall(r"option\(\s*(\w+)", text))
    names |= set(re.findall(r"set\(\s*(\w+)\s+[^)]*?\bCACHE\b", text, flags=re.S))
    return names


def check_spack(src):
    path = src / "packaging/spack/spack_repo/kmdflow/packages/kmdflow/package.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if [c.name for c in classes] != ["Kmdflow"]:
        fail(f"{path}: expected one class Kmdflow, found {[c.name for c in classes]}")
    cls = classes[0]
    bases = {b.id for b in cls.bases if isinstance(b, ast.Name)}
    if not {"CMakePackage", "CudaPackage"} <= bases:
        fail(f"{path}: Kmdflow must derive from CMakePackage and CudaPackage, has {sorted(bases)}")

    calls = [n for n in ast.walk(cls) if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute))]

    def name(call):
        return call.func.id if isinstance(call.func, ast.Name) else call.func.attr

    def first_string(call):
        if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
            return call.args[0].value
        return None

    project = re.search(r"project\(kmdflow VERSION ([0-9.]+)", (src / "CMakeLists.txt").read_text())
    versions = [first_string(c) for c in calls if name(c) == "version"]
    if project is None or project.group(1) not in versions:
        fail(f"{path}: versions {versions} do not include the project's {project and project.group(1)}")

    variants = {first_string(c) for c in calls if name(c) == "variant"}
    if not {"python", "mpi"} <= variants:
        fail(f"{path}: variants {sorted(variants)} lack python or mpi (the README names +python, +mpi)")

    declared = cmake_variables(src / "CMakeLists.txt")
    defined = {first_string(c) for c in calls if name(c) in ("define", "define_from_variant")}
    ours = {d for d in defined if d and d.startswith("KMDFLOW_")}
    unknown = ours - declared
    if unknown:
        fail(f"{path}: defines {sorted(unknown)}, which CMakeLists.txt does not declare ({sorted(declared)})")
    print(f"spack: class Kmdflow, versions {versions}, variants {sorted(variants)} (+cuda from CudaPackage), "
          f"CMake variables {sorted(defined)} all declared")


def sections(text):
    """The %sections of an Apptainer definition file, each as its lines."""
    result, current = {}, None
    for line in text.splitlines():
        match = re.match(r"%(\w+)", line)
        if match:
            current = match.group(1)
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return result


def check_apptainer(src):
    path = src / "packaging/apptainer/kmdflow.def"
    text = path.read_text()
    header = dict(re.findall(r"^(\w+):\s*(\S+)", text.split("%", 1)[0], flags=re.M))
    if header.get("Bootstrap") != "debootstrap" or header.get("OSVersion") != "sid":
        fail(f"{path}: expected Bootstrap: debootstrap, OSVersion: sid (the environment of scripts/setup), got {header}")
    parts = sections(text)
    copied = []
    for line in parts.get("files", []):
        if line.strip() and not line.strip().startswith("#"):
            source = line.split()[0]
            if not (src / source).exists():
                fail(f"{path}: %files copies {source}, which does not exist")
            copied.append(source)
    wanted = set(re.findall(r"add_subdirectory\((\w+)\)", (src / "CMakeLists.txt").read_text()))
    wanted |= {"CMakeLists.txt", "cmake", "scripts"}
    missing = wanted - set(copied)
    if missing:
        fail(f"{path}: %files lacks {sorted(missing)}, which the build needs")
    post = "\n".join(parts.get("post", []))
    for script in re.findall(r'"\$src/(scripts/[\w-]+)"', post):
        if not (src / script).is_file():
            fail(f"{path}: %post calls {script}, which does not exist")
    check = subprocess.run(["bash", "-n"], input=post, text=True, capture_output=True)
    if check.returncode != 0:
        fail(f"{path}: %post is not valid shell: {check.stderr.strip()}")
    packages = subprocess.run(["bash", str(src / "scripts/setup"), "--print-packages"], text=True,
                              capture_output=True, check=True).stdout.split()
    if "libkokkos-dev" not in packages:
        fail("scripts/setup --print-packages does not list libkokkos-dev")
    print(f"apptainer: copies {len(copied)} paths (all present, every build directory), %post valid, "
          f"{len(packages)} packages from scripts/setup --print-packages")


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    check_spack(src)
    check_apptainer(src)


if __name__ == "__main__":
    main()
