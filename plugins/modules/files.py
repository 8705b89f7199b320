#!/usr/bin/python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.files module: a batch of small files and directories in one task, one round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
author:
  - g448 platform team (@g448)
version_added: 1.1.0
short_description: Ensure a batch of small files (templates or inline content) and directories in one round trip
description:
  - Takes a list of files and directories to be present, and of files and symlinks to be absent. The action plugin
    renders every O(items[].src) template on the controller with the task's variables, as M(ansible.builtin.template)
    does (the same templar, search path and C(ansible_managed)), then makes one module call on the target for the
    whole list, instead of one round trip per file of a looped M(ansible.builtin.template), M(ansible.builtin.copy)
    or M(ansible.builtin.file).
  - An O(items[].state=absent) item removes a file or a symlink (never what it points to) when one is there, as
    M(ansible.builtin.file) with O(items[].state=absent) does; a directory there fails the task, naming it
    (M(ansible.builtin.file) would remove it with all it holds).
  - On the target, each item is compared with what is there (sha1 of the content, owner, group, mode) and only what
    differs is written. A file is written atomically, a temporary file in the destination's directory, with owner,
    group and mode set and O(items[].validate) passed before it is renamed over the destination.
  - Items are handled in list order, so a directory item comes before the files it holds. A directory's missing
    parents are created with its owner, group and mode, as M(ansible.builtin.file) creates them; a file whose
    directory does not exist fails. In check mode nothing is written, and a file whose directory does not exist
    (an earlier item or task would create it) is reported as created.
  - The task is changed when any item changed, so its C(notify) fires then. Where files need different handlers,
    use one task per handler set, or register the result and read RV(files) per item.
  - The result never holds a file's content, except in the diff of an item whose O(items[].diff) is true. With
    C(no_log) on the task, Ansible hides the whole result, diff included.
  - The action plugin always calls the module as a C(no_log) task, so the target never logs its arguments (the
    files' content) to syslog or the journal, whatever the task's C(no_log); the task's own C(no_log) still decides
    what the controller shows.
options:
  items:
    description: The files and directories, in the order they are handled.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Absolute path of the file or directory.
        type: path
        required: true
      state:
        description:
          - V(file) for a file with O(items[].src) or O(items[].content), V(directory) for a directory, V(absent) for
            no file or symlink at O(items[].dest).
          - An V(absent) item takes O(items[].dest) (and O(items[].diff)) only; the action plugin fails on any
            other key, naming the item.
        type: str
        choices: [file, directory, absent]
        default: file
      src:
        description:
          - A template, found like M(ansible.builtin.template)'s C(src) (the role's C(templates/) first), rendered
            on the controller by the action plugin. Exactly one of O(items[].src) and O(items[].content) for a file.
        type: path
      content:
        description: The file's content as text. Exactly one of O(items[].src) and O(items[].content) for a file.
        type: str
      owner:
        description: User name or uid. When unset, an existing file keeps its owner and a new one is the remote user's.
        type: str
      group:
        description: Group name or gid. When unset, an existing file keeps its group and a new one gets the default.
        type: str
      mode:
        description:
          - Octal permissions as a quoted string (V("0644")). When unset, an existing file keeps its mode and a new
            one gets 0666 (0777 for a directory) less the umask, as M(ansible.builtin.copy) and
            M(ansible.builtin.file) create them.
        type: raw
      validate:
        description:
          - A command run on the temporary file before it replaces the destination; C(%s) is the file's path. The
            file is not written when the command fails. Runs only when the content changes, never in check mode.
        type: str
      diff:
        description:
          - Whether a changed file's old and new content may appear in the diff. V(false) hides the content from the
            diff only; for secrets also set C(no_log) on the task, which hides the whole result.
        type: bool
        default: true
  max_size:
    description: The largest content, in bytes, one item may hold (the content travels inside the module call).
    type: int
    default: 65536
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Symbolic modes (V(u=rw,g=r)) are not supported.
  - A directory item whose O(items[].dest) is a symlink to a directory sets owner, group and mode on that directory,
    as M(ansible.builtin.file) does. A symlink at a file's O(items[].dest) is replaced by the file (as
    M(ansible.builtin.copy) with C(follow=no)); the diff shows what it pointed to.
  - Every item's O(items[].dest), O(items[].mode), O(items[].validate) and size are checked before any item is
    applied. A large old file (over 104448 bytes) is left out of the diff.
  - Meant for files of a few KiB; anything larger belongs to M(ansible.builtin.copy).
  - A C(ansible_managed) variable set in the inventory or play is used as ansible-core 2.19's
    M(ansible.builtin.template) uses it, on ansible-core 2.17 and 2.18 too (their template action uses the
    configuration's string instead).
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Ensure the job's directories and scripts are in place
  g448.devenv.files:
    items:
      - {dest: /var/lib/myjob, state: directory, owner: root, group: root, mode: "0700"}
      - {src: myjob.sh.j2, dest: /usr/local/sbin/myjob, owner: root, group: root, mode: "0750"}
      - {content: "KEY=value\n", dest: /etc/myjob.env, owner: root, group: root, mode: "0600", diff: false}

- name: Ensure the job's units are rendered
  g448.devenv.files:
    items:
      - {src: myjob.service.j2, dest: /etc/systemd/system/myjob.service, owner: root, group: root, mode: "0644"}
      - {src: myjob.timer.j2, dest: /etc/systemd/system/myjob.timer, owner: root, group: root, mode: "0644"}
      - {dest: /etc/systemd/system/myjob-old.timer, state: absent}
  register: __myrole_units
  notify: reload systemd

- name: Ensure the job's timer restarts when its unit changed (one handler for one item of the batch)
  ansible.builtin.debug:
    msg: "{{ __myrole_units.files | selectattr('changed') | map(attribute='dest') }}"
  changed_when: __myrole_units.files | selectattr('dest', 'search', 'timer$') | selectattr('changed') | list | length > 0
  notify: restart myjob timer
"""

RETURN = r"""
files:
  description: One entry per item, in the order of O(items).
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The item's path.
      type: str
      sample: /etc/systemd/system/myjob.service
    state:
      description: V(file), V(directory) or V(absent), as the item asked.
      type: str
      sample: file
    changed:
      description:
        - Whether anything of this item changed (or would, in check mode). For an V(absent) item, whether a file
          or symlink was (or would be) removed.
      type: bool
      sample: true
    created:
      description: Whether the path did not exist before (always V(false) for an V(absent) item).
      type: bool
      sample: false
    content_changed:
      description: Whether the file's content changed (always V(false) for a directory and an V(absent) item).
      type: bool
      sample: true
    attributes_changed:
      description: Which of owner, group and mode changed (always empty for an V(absent) item).
      type: list
      elements: str
      sample: [mode]
  sample:
    - {dest: /usr/local/sbin/myjob, state: file, changed: true, created: false, content_changed: false,
       attributes_changed: [mode]}
diff:
  description:
    - In diff mode, one entry per changed item; file content only for items whose O(items[].diff) is true.
    - A removed path shows its state before (V(file), V(link) for a symlink) and after (V(absent)), never its content,
      as M(ansible.builtin.file) shows it.
  returned: changed and diff mode
  type: list
  elements: dict
  sample: [{before_header: /etc/myjob.env, after_header: /etc/myjob.env, before: "mode: 0644\n", after: "mode: 0600\n"}]
"""

import grp
import hashlib
import os
import pwd
import re
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

_OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")
# ansible.builtin.copy/template create a file 0666 less the umask, ansible.builtin.file a directory 0777 less it.
DEFAULT_FILE_MODE = 0o666
DEFAULT_DIR_MODE = 0o777
# ansible.builtin.copy's default max_file_size_for_diff (the controller's setting is not visible here).
MAX_DIFF_SIZE = 104448


class ItemError(Exception):
    """An item that cannot be applied; the message names its dest."""


def parse_mode(value, dest):
    """The permission bits of an item's mode (None when unset). Integers are taken as the bits themselves, as
    ansible.builtin.file takes them; strings must be octal."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ItemError("%s: mode must be an octal string such as \"0644\", not %r" % (dest, value))
    if isinstance(value, int):
        return value & 0o7777
    text = to_text(value).strip()
    if not _OCTAL_MODE.match(text):
        raise ItemError("%s: mode must be an octal string such as \"0644\", not %r" % (dest, text))
    return int(text, 8)


def _resolve_id(name, lookup, field, kind, dest):
    """A numeric id as given, a name through the host's user or group database, None for None."""
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    try:
        return getattr(lookup(name), field)
    except KeyError:
        raise ItemError("%s: no %s named %s on this host" % (dest, kind, name))


def resolve_uid(owner, dest):
    return _resolve_id(owner, pwd.getpwnam, "pw_uid", "user", dest)


def resolve_gid(group, dest):
    return _resolve_id(group, grp.getgrnam, "gr_gid", "group", dest)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def attribute_changes(current, uid, gid, mode):
    """The names of the attributes whose wanted value (None: keep) differs from os.lstat's `current`."""
    changes = []
    if uid is not None and current.st_uid != uid:
        changes.append("owner")
    if gid is not None and current.st_gid != gid:
        changes.append("group")
    if mode is not None and stat.S_IMODE(current.st_mode) != mode:
        changes.append("mode")
    return changes


def describe_attributes(uid, gid, mode, names):
    """The named attributes as diff text lines (owner, group by name; mode in octal)."""
    lines = []
    for name in names:
        if name == "owner":
            lines.append("owner: %s" % _user_name(uid))
        elif name == "group":
            lines.append("group: %s" % _group_name(gid))
        elif name == "mode":
            lines.append("mode: %04o" % mode)
    return "".join(line + "\n" for line in lines)


def _lstat(path):
    """os.lstat of `path`, None when nothing is there (also when a parent is a file, as os.path.lexists says)."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _fsync_directory(directory):
    """A rename or unlink in `directory` is durable only once the directory is on disk too."""
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def _stat_through_link(path):
    """os.stat of what the symlink `path` points to, None when it points to nothing."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def precheck(item, max_size):
    """What can be checked of an item before anything is applied, so a bad item fails the task before any
    earlier item is written."""
    dest = item["dest"]
    if not os.path.isabs(dest):
        raise ItemError("%s: dest must be an absolute path" % dest)
    parse_mode(item["mode"], dest)
    if item["state"] == "file":
        if item["validate"] and "%s" not in item["validate"]:
            raise ItemError("%s: validate must contain %%s (the file to check)" % dest)
        if item["content"] is not None:
            size = len(to_bytes(item["content"], errors="surrogate_or_strict"))
            if size > max_size:
                raise ItemError("%s: the content is %d bytes, more than max_size (%d)" % (dest, size, max_size))


def _sha1(data):
    return hashlib.sha1(data).hexdigest()


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


class Applier:
    """Applies items one by one; remembers the directories check mode would have created."""

    def __init__(self, module):
        self.module = module
        self.check_mode = module.check_mode
        self.planned_dirs = set()

    def _parent_exists(self, dest):
        parent = os.path.dirname(dest)
        return os.path.isdir(parent) or parent in self.planned_dirs

    def _missing_parents(self, dest):
        """The ancestors of `dest` that neither exist nor are planned, outermost first."""
        missing = []
        parent = os.path.dirname(dest)
        while parent and parent != "/" and not os.path.lexists(parent) and parent not in self.planned_dirs:
            missing.append(parent)
            parent = os.path.dirname(parent)
        return list(reversed(missing))

    def directory(self, item):
        """A directory item; missing parents are created with the same owner, group and mode, as
        ansible.builtin.file creates them."""
        dest = item["dest"]
        uid, gid = resolve_uid(item["owner"], dest), resolve_gid(item["group"], dest)
        mode = parse_mode(item["mode"], dest)
        current = _lstat(dest)
        entry = dict(dest=dest, state="directory", created=current is None, content_changed=False)
        if current is not None and stat.S_ISLNK(current.st_mode):
            # ansible.builtin.file (follow: true) takes a symlink to a directory and sets the attributes on
            # the directory; os.chown and os.chmod below follow the link.
            current = _stat_through_link(dest)
            if current is None or not stat.S_ISDIR(current.st_mode):
                raise ItemError("%s exists and is not a directory (a symlink to %s)" % (dest, os.readlink(dest)))
        if current is not None and not stat.S_ISDIR(current.st_mode):
            raise ItemError("%s exists and is not a directory" % dest)
        if current is None:
            created = self._missing_parents(dest) + [dest]
            changes = [name for name, value in (("owner", uid), ("group", gid), ("mode", mode)) if value is not None]
            diff = dict(before="state: absent\n",
                        after="state: directory\n" + describe_attributes(uid, gid, mode, changes)
                        + "".join("parent created: %s\n" % path for path in created[:-1]))
            for path in created:
                if self.check_mode:
                    self.planned_dirs.add(path)
                else:
                    os.mkdir(path, DEFAULT_DIR_MODE if mode is None else 0o700)  # less the umask
                    self._set_attributes(path, uid, gid, mode)
        else:
            changes = attribute_changes(current, uid, gid, mode)
            diff = dict(before=describe_attributes(current.st_uid, current.st_gid, stat.S_IMODE(current.st_mode), changes),
                        after=describe_attributes(uid, gid, mode, changes))
            if changes and not self.check_mode:
                self._set_attributes(dest, uid, gid, mode)
        entry.update(attributes_changed=changes, changed=entry["created"] or bool(changes))
        diff.update(before_header=dest, after_header=dest)
        return entry, [diff] if entry["changed"] else []

    def absent(self, item):
        """An absent item: a file or symlink at dest is removed (a symlink, never what it points to); a directory
        fails, as removing it would take what it holds."""
        dest = item["dest"]
        current = _lstat(dest)
        if current is not None and stat.S_ISDIR(current.st_mode):
            raise ItemError("%s is a directory; an absent item removes only a file or a symlink" % dest)
        entry = dict(dest=dest, state="absent", created=False, content_changed=False, attributes_changed=[],
                     changed=current is not None)
        if current is None:
            return entry, []
        if not self.check_mode:
            os.unlink(dest)
            _fsync_directory(os.path.dirname(dest))
        before = "state: %s\n" % ("link" if stat.S_ISLNK(current.st_mode) else "file")
        return entry, [dict(before_header=dest, after_header=dest, before=before, after="state: absent\n")]

    def file(self, item):
        dest = item["dest"]
        if item["src"] is not None:
            raise ItemError("%s: src is rendered by the g448.devenv.files action plugin; call the module through it"
                            % dest)
        if item["content"] is None:
            raise ItemError("%s: a file needs content (or src through the action plugin)" % dest)
        data = to_bytes(item["content"], errors="surrogate_or_strict")  # its size: checked by precheck()
        uid, gid = resolve_uid(item["owner"], dest), resolve_gid(item["group"], dest)
        mode = parse_mode(item["mode"], dest)
        current = _lstat(dest)
        if current is not None and stat.S_ISDIR(current.st_mode):
            raise ItemError("%s is a directory" % dest)
        # In check mode an earlier task may be the one that would create the directory (as with
        # ansible.builtin.template, the file is then reported as created); a real run fails.
        if not self.check_mode and not self._parent_exists(dest):
            raise ItemError("%s: its directory %s does not exist" % (dest, os.path.dirname(dest)))
        regular = current is not None and stat.S_ISREG(current.st_mode)
        # Read only what is compared or shown: a file of another size differs, a large one stays out of the diff.
        old = _read(dest) if regular and (current.st_size == len(data) or current.st_size <= MAX_DIFF_SIZE) else None
        content_changed = not regular or current.st_size != len(data) or _sha1(old) != _sha1(data)
        shown_old = old
        if regular and current.st_size > MAX_DIFF_SIZE:
            shown_old = b"(diff skipped: the old file is larger than %d bytes)\n" % MAX_DIFF_SIZE
        elif current is not None and stat.S_ISLNK(current.st_mode):
            # The link is replaced by a file (as copy and template with follow: no); the diff shows what it
            # pointed to, as copy's does.
            target = _stat_through_link(dest)
            if target is not None and stat.S_ISREG(target.st_mode) and target.st_size <= MAX_DIFF_SIZE:
                shown_old = _read(dest)
        entry = dict(dest=dest, state="file", created=current is None, content_changed=content_changed)

        if regular:
            changes = attribute_changes(current, uid, gid, mode)
        else:
            changes = [name for name, value in (("owner", uid), ("group", gid), ("mode", mode)) if value is not None]
        diffs = self._file_diffs(item, shown_old, data, current if regular else None, uid, gid, mode, changes,
                                 content_changed)

        if not self.check_mode:
            if content_changed:
                keep = current if regular else None
                self._replace(dest, data, item["validate"],
                              uid if uid is not None or keep is None else keep.st_uid,
                              gid if gid is not None or keep is None else keep.st_gid,
                              mode if mode is not None else (stat.S_IMODE(keep.st_mode) if keep else None))
            elif changes:
                self._set_attributes(dest, uid, gid, mode)
        entry.update(attributes_changed=changes, changed=content_changed or bool(changes))
        return entry, diffs

    @staticmethod
    def _file_diffs(item, old, data, current, uid, gid, mode, changes, content_changed):
        """The diff entries of a file: its attributes (only for a file that exists) and its content."""
        dest = item["dest"]
        diffs = []
        if current is not None and changes:
            diffs.append(dict(
                before_header="%s (attributes)" % dest, after_header="%s (attributes)" % dest,
                before=describe_attributes(current.st_uid, current.st_gid, stat.S_IMODE(current.st_mode), changes),
                after=describe_attributes(uid, gid, mode, changes)))
        if content_changed:
            if not item["diff"]:
                before, after = ("" if old is None else "(content not shown)\n"), "(content not shown, changed)\n"
            else:
                try:
                    before, after = ("" if old is None else to_text(old, errors="strict")), to_text(data, errors="strict")
                except UnicodeError:
                    before, after = ("" if old is None else "(binary content)\n"), "(binary content, changed)\n"
            diffs.append(dict(before_header=dest, after_header=dest, before=before, after=after))
        return diffs

    def _set_attributes(self, path, uid, gid, mode):
        """Owner, group and mode of `path`, through a symlink (only a directory item may be one here)."""
        if uid is not None or gid is not None:
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            os.chmod(path, mode)

    def _replace(self, dest, data, validate, uid, gid, mode):
        directory, name = os.path.split(dest)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % name, suffix=".g448tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                if uid is not None or gid is not None:
                    os.fchown(out.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
                if mode is None:
                    umask = os.umask(0)
                    os.umask(umask)
                    mode = DEFAULT_FILE_MODE & ~umask
                os.fchmod(out.fileno(), mode)
                os.fsync(out.fileno())
            if validate:
                try:
                    rc, out_text, err_text = self.module.run_command(validate % tmp, handle_exceptions=False)
                except OSError as exc:  # the command is not there (a package not installed yet)
                    raise ItemError("%s: validate (%s) could not run: %s" % (dest, validate, to_native(exc)))
                if rc != 0:
                    raise ItemError("%s: validate (%s) failed with rc %d: %s"
                                    % (dest, validate, rc, (err_text or out_text).strip()))
            os.rename(tmp, dest)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
        _fsync_directory(directory)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            items=dict(
                type="list", elements="dict", required=True,
                options=dict(
                    dest=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "absent"], default="file"),
                    src=dict(type="path"),
                    content=dict(type="str"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="raw"),
                    validate=dict(type="str"),
                    diff=dict(type="bool", default=True),
                ),
            ),
            max_size=dict(type="int", default=65536),
        ),
        supports_check_mode=True,
    )
    applier = Applier(module)
    files, diffs = [], []
    for item in module.params["items"]:
        try:
            precheck(item, module.params["max_size"])
        except ItemError as exc:
            module.fail_json(msg=to_native(exc), files=files, changed=False)
    for item in module.params["items"]:
        try:
            if item["state"] == "directory":
                entry, diff = applier.directory(item)
            elif item["state"] == "absent":
                entry, diff = applier.absent(item)
            else:
                entry, diff = applier.file(item)
        except ItemError as exc:
            module.fail_json(msg=to_native(exc), files=files, changed=any(f["changed"] for f in files))
        except OSError as exc:
            module.fail_json(msg="%s: %s" % (item["dest"], to_native(exc)), files=files,
                             changed=any(f["changed"] for f in files))
        files.append(entry)
        if entry["changed"]:
            diffs.extend(diff)

    result = dict(changed=any(entry["changed"] for entry in files), files=files)
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
