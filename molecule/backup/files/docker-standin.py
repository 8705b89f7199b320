#!/usr/bin/python3
# Docker CLI STAND-IN for g448.devenv's backup scenario (tests only). NOT Docker.
#
# The backup scenario's test container runs no Docker engine, yet the backup
# job selects workspace volumes by label through the docker CLI and the restore
# re-creates volumes Docker lost. This program answers exactly the commands the
# role runs, with the output shape of Docker's CLI
# (https://docs.docker.com/reference/cli/docker/volume/):
#   docker volume ls --quiet [--filter label=KEY[=VALUE]]   one name per line
#   docker volume inspect NAME...    JSON array; exit 1 and "[]" when one is missing
#   docker volume create [--label KEY=VALUE]... NAME        prints NAME
# Volumes live in /var/lib/docker-standin/volumes.json ({name: labels}); their
# mount points are /var/lib/docker/volumes/<name>/_data, as with the local driver.
# Every create is appended to /var/lib/docker-standin/creates.log.
# The scenario also runs a real Docker engine with userns-remap (prepare.yml),
# whose volumes live under /var/lib/docker/<uid>.<gid>/volumes: `volume ls`
# lists its volumes after the stand-in's, and `volume inspect` asks it about
# names the stand-in does not know (through its own CLI, /usr/bin/docker).
# `volume create` always creates a stand-in volume.
import json
import os
import subprocess
import sys

STATE = "/var/lib/docker-standin"
REGISTRY = os.path.join(STATE, "volumes.json")
VOLUMES_DIR = "/var/lib/docker/volumes"
ENGINE_CLI = "/usr/bin/docker"


def engine(args):
    """(exit code, stdout, stderr) of the real engine's CLI, or None without one."""
    if not os.path.exists(ENGINE_CLI):
        return None
    run = subprocess.run([ENGINE_CLI] + args, capture_output=True, text=True, check=False)
    return run.returncode, run.stdout, run.stderr


def load():
    try:
        with open(REGISTRY) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(volumes):
    os.makedirs(STATE, exist_ok=True)
    with open(REGISTRY + ".tmp", "w") as f:
        json.dump(volumes, f, indent=1, sort_keys=True)
    os.replace(REGISTRY + ".tmp", REGISTRY)


def describe(name, labels):
    return {
        "CreatedAt": "2026-01-01T00:00:00Z",
        "Driver": "local",
        "Labels": labels or None,
        "Mountpoint": f"{VOLUMES_DIR}/{name}/_data",
        "Name": name,
        "Options": None,
        "Scope": "local",
    }


def usage():
    print("docker stand-in: unsupported command: " + " ".join(sys.argv[1:]), file=sys.stderr)
    return 125


def main(args):
    if args[:2] != ["volume", "ls"] and args[:2] != ["volume", "inspect"] and args[:2] != ["volume", "create"]:
        return usage()
    volumes = load()
    cmd, rest = args[1], args[2:]
    if cmd == "ls":
        wanted = None
        i = 0
        while i < len(rest):
            if rest[i] in ("--quiet", "-q"):
                i += 1
            elif rest[i] == "--filter" and i + 1 < len(rest) and rest[i + 1].startswith("label="):
                wanted = rest[i + 1][len("label="):]
                i += 2
            elif rest[i].startswith("--filter=label="):
                wanted = rest[i][len("--filter=label="):]
                i += 1
            else:
                return usage()
        for name, labels in sorted(volumes.items()):
            if wanted is not None:
                key, _, value = wanted.partition("=")
                if key not in labels or ("=" in wanted and labels[key] != value):
                    continue
            print(name)
        real = engine(["volume", "ls", "--quiet"] + (["--filter", "label=" + wanted] if wanted is not None else []))
        if real is not None:
            if real[0] != 0:
                sys.stderr.write(real[2])
                return real[0]
            for name in real[1].split():
                if name not in volumes:
                    print(name)
        return 0
    if cmd == "inspect":
        if not rest or any(a.startswith("-") for a in rest):
            return usage()
        found = [describe(n, volumes[n]) for n in rest if n in volumes]
        others = [n for n in rest if n not in volumes]
        missing = others
        if others:
            real = engine(["volume", "inspect"] + others)
            if real is not None:
                found += json.loads(real[1] or "[]")
                known = {v["Name"] for v in found}
                missing = [n for n in others if n not in known]
        order = {n: i for i, n in enumerate(rest)}
        found.sort(key=lambda v: order.get(v["Name"], len(rest)))
        print(json.dumps(found, indent=4))
        for n in missing:
            print(f"Error response from daemon: get {n}: no such volume", file=sys.stderr)
        return 1 if missing else 0
    # create
    labels, names = {}, []
    i = 0
    while i < len(rest):
        if rest[i] == "--label" and i + 1 < len(rest):
            key, _, value = rest[i + 1].partition("=")
            labels[key] = value
            i += 2
        elif rest[i].startswith("--label="):
            key, _, value = rest[i][len("--label="):].partition("=")
            labels[key] = value
            i += 1
        elif rest[i].startswith("-"):
            return usage()
        else:
            names.append(rest[i])
            i += 1
    if len(names) != 1:
        return usage()
    name = names[0]
    if name not in volumes:
        volumes[name] = labels
        save(volumes)
        os.makedirs(f"{VOLUMES_DIR}/{name}/_data", exist_ok=True)
        with open(os.path.join(STATE, "creates.log"), "a") as f:
            f.write(json.dumps({"name": name, "labels": labels}, sort_keys=True) + "\n")
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
