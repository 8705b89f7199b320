# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The action side of g448.devenv.files: render each item's template on the controller, as
ansible.builtin.template does, then run the module once on the target for the whole batch."""

from __future__ import annotations

import os

from ansible.errors import AnsibleAction, AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible import template as _ansible_template

MODULE = "g448.devenv.files"
DEFAULT_MAX_SIZE = 65536
# ansible-core 2.19 tags template text as trusted; 2.17 and 2.18 trust every string they are given.
_TRUST = getattr(_ansible_template, "trust_as_template", None)
_TASK_KEYS = frozenset(("items", "max_size"))
_ITEM_KEYS = frozenset(("dest", "state", "src", "content", "owner", "group", "mode", "validate", "diff"))
# An absent item removes what is there: none of these apply to it.
_ABSENT_REFUSES = ("src", "content", "owner", "group", "mode", "validate")


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        try:
            unknown = sorted(set(self._task.args) - _TASK_KEYS)
            if unknown:  # the module would reject them, but only items and max_size are passed on to it
                raise AnsibleActionFail("unknown arguments %s (g448.devenv.files takes items and max_size; owner, "
                                        "group, mode, validate and diff go in each item)" % ", ".join(unknown))
            items = self._task.args.get("items")
            max_size = self._task.args.get("max_size", DEFAULT_MAX_SIZE)
            if not isinstance(items, list) or not items:
                raise AnsibleActionFail("items must be a non-empty list of files and directories")
            try:
                max_size = int(max_size)
            except (TypeError, ValueError):
                raise AnsibleActionFail("max_size must be an integer, not %r" % (max_size,))
            module_items = [self._module_item(index, item, max_size, task_vars) for index, item in enumerate(items)]
            module_args = dict(items=module_items, max_size=max_size)
            # The module's arguments hold every file's content: AnsibleModule logs its arguments to the target's
            # syslog/journal unless _ansible_no_log is set, which _execute_module takes from the task. Make the
            # call as a no_log task (as copy and template never log content), then restore the task's own no_log,
            # by which the controller censors (or shows) this task's result and diff.
            task_no_log = self._task.no_log
            self._task.no_log = True
            try:
                result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
            finally:
                self._task.no_log = task_no_log
        except AnsibleAction as exc:
            result.update(exc.result)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        # The module echoes its arguments (-vvv shows them): keep everything but the rendered content.
        if "invocation" in result:
            shown = [{key: value for key, value in item.items() if key != "content"} if isinstance(item, dict) else item
                     for item in self._task.args.get("items") or []]
            max_size = self._task.args.get("max_size", DEFAULT_MAX_SIZE)
            result["invocation"] = dict(module_args=dict(items=shown, max_size=max_size))
        return result

    def _module_item(self, index, item, max_size, task_vars):
        """The item as the module takes it: src rendered into content, checked before anything is sent."""
        if not isinstance(item, dict):
            raise AnsibleActionFail("items[%d] must be a dict with dest, not %r" % (index, item))
        unknown = sorted(set(item) - _ITEM_KEYS)
        dest = item.get("dest")
        if unknown:
            raise AnsibleActionFail("items[%d] (%s): unknown keys %s" % (index, dest, ", ".join(unknown)))
        if not isinstance(dest, str) or not dest:
            raise AnsibleActionFail("items[%d]: dest is required" % index)
        state = item.get("state", "file")
        has_src, has_content = item.get("src") is not None, item.get("content") is not None
        if state == "directory":
            if has_src or has_content:
                raise AnsibleActionFail("%s: a directory takes neither src nor content" % dest)
            return dict(item)
        if state == "absent":
            given = [key for key in _ABSENT_REFUSES if item.get(key) is not None]
            if given:
                raise AnsibleActionFail("%s: an absent item takes no %s" % (dest, ", ".join(given)))
            return dict(item)
        if state != "file":
            raise AnsibleActionFail("%s: state must be file, directory or absent, not %r" % (dest, state))
        if has_src == has_content:
            raise AnsibleActionFail("%s: a file needs exactly one of src and content" % dest)

        out = {key: value for key, value in item.items() if key != "src"}
        if has_src:
            out["content"] = self._render(item["src"], dest, task_vars)
        elif isinstance(item["content"], (dict, list)):
            raise AnsibleActionFail("%s: content must be text; pass a structure through to_nice_json" % dest)
        elif not isinstance(item["content"], str):
            # ansible-core 2.17 turns a templated "12345" into an int; ansible.builtin.copy writes it as text too.
            out["content"] = to_text(item["content"])
        size = len(to_bytes(out["content"], errors="surrogate_or_strict"))
        if size > max_size:
            raise AnsibleActionFail("%s: the content is %d bytes, more than max_size (%d); use ansible.builtin.copy "
                                    "or ansible.builtin.template for large files" % (dest, size, max_size))
        return out

    def _render(self, src, dest, task_vars):
        """The template `src` rendered the way ansible.builtin.template renders it: found in the role's
        templates/ first, the same search path for includes, template_* variables and ansible_managed
        (unless the inventory sets it), trim_blocks, trailing newlines kept."""
        try:
            source = self._find_needle("templates", src)
        except AnsibleError as exc:
            raise AnsibleActionFail(to_text(exc))

        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader._basedir, os.path.dirname(source)])
        searchpath = [path for base in searchpath for path in (os.path.join(base, "templates"), base)]

        template_vars = dict(task_vars)
        # ansible-core marks generate_ansible_template_vars for deprecation in 2.23: inline the template_* variables
        # before the collection supports 2.23. A user's ansible_managed wins, as on 2.19 (documented in the notes).
        generated = _ansible_template.generate_ansible_template_vars(src, fullpath=source, dest_path=dest)
        if "ansible_managed" in task_vars:
            generated.pop("ansible_managed", None)
        template_vars.update(generated)
        overrides = dict(trim_blocks=True, lstrip_blocks=False)

        try:
            if _TRUST is not None:
                data = _TRUST(self._loader.get_text_file_contents(source))
                templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=template_vars)
                rendered = templar.template(data, escape_backslashes=False, overrides=dict(overrides, newline_sequence="\n"))
            else:
                rendered = self._render_legacy(source, searchpath, template_vars, overrides)
        except AnsibleAction:
            raise
        except Exception as exc:
            # The template's own error, named with the file it was for. Not an AnsibleAction, which run() would
            # turn into a plain result: raised out of the action as ansible.builtin.template lets it, the task
            # error keeps its cause, and on ansible-core 2.19 the template's origin (file, line).
            raise AnsibleError("%s (rendering %s): %s: %s" % (dest, src, type(exc).__name__, to_text(exc))) from exc
        return "" if rendered is None else to_text(rendered)

    def _render_legacy(self, source, searchpath, template_vars, overrides):
        """ansible-core 2.17 and 2.18: the template action's AnsibleEnvironment and do_template."""
        from ansible.template import AnsibleEnvironment

        real = self._loader.get_real_file(source)
        try:
            with open(to_bytes(real, errors="surrogate_or_strict"), "rb") as handle:
                data = to_text(handle.read(), errors="surrogate_or_strict")
        finally:
            self._loader.cleanup_tmp_file(real)
        templar = self._templar.copy_with_new_env(environment_class=AnsibleEnvironment, searchpath=searchpath,
                                                  newline_sequence="\n", available_variables=template_vars)
        return templar.do_template(data, preserve_trailing_newlines=True, escape_backslashes=False, overrides=overrides)
