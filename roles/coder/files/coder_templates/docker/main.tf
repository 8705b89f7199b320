# Coder template: one Docker container per workspace on a g448.devenv
# workspace host (role g448.devenv.workspace_host), with a persistent home
# volume, resource limits chosen by the developer within the host's maxima,
# and Git through Coder's GitLab external auth (no personal access tokens).
# Docs: https://coder.com/docs/admin/templates and
# https://registry.terraform.io/providers/kreuzwerker/docker/latest/docs

terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.0.0"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 3.0.0"
    }
  }
}

# ---------------------------------------------------------------------------
# Template variables: set by the operator at `coder templates push`
# (--variable name=value). The limit variables match the keys of the
# workspace host's /etc/g448/workspace-defaults.json.
# ---------------------------------------------------------------------------

variable "docker_host" {
  description = "Docker daemon to use: empty for the local socket, or ssh://coder@<workspace host> for a remote workspace host."
  type        = string
  default     = ""
}

variable "workspace_image" {
  description = "Image every workspace runs (it must contain the tools developers need and a `coder` user's home at /home/coder)."
  type        = string
  default     = "codercom/enterprise-base:ubuntu"
}

variable "memory_mb" {
  description = "Default memory of a workspace in MiB."
  type        = number
  default     = 4096
}

variable "memory_max_mb" {
  description = "Maximum memory a developer may choose, in MiB."
  type        = number
  default     = 16384
}

variable "cpus" {
  description = "Default CPUs of a workspace."
  type        = number
  default     = 2
}

variable "cpus_max" {
  description = "Maximum CPUs a developer may choose."
  type        = number
  default     = 4
}

variable "pids" {
  description = "Default process limit of a workspace."
  type        = number
  default     = 2048
}

variable "pids_max" {
  description = "Maximum process limit a developer may choose."
  type        = number
  default     = 8192
}

provider "docker" {
  # null keeps the provider's default (the local socket or DOCKER_HOST).
  host = var.docker_host != "" ? var.docker_host : null
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

# ---------------------------------------------------------------------------
# Parameters the developer picks, bounded by the host's maxima.
# ---------------------------------------------------------------------------

data "coder_parameter" "memory_mb" {
  name         = "memory_mb"
  display_name = "Memory (MiB)"
  description  = "Memory limit of the workspace container. Above it the kernel kills the biggest process in the workspace, never the host's services."
  type         = "number"
  default      = var.memory_mb
  mutable      = true
  validation {
    min = 256
    max = floor(var.memory_max_mb)
  }
}

data "coder_parameter" "cpus" {
  name         = "cpus"
  display_name = "CPUs"
  description  = "CPU limit of the workspace container (whole CPUs)."
  type         = "number"
  default      = max(1, floor(var.cpus))
  mutable      = true
  validation {
    min = 1
    max = max(1, floor(var.cpus_max))
  }
}

data "coder_parameter" "pids" {
  name         = "pids"
  display_name = "Process limit"
  description  = "Maximum number of processes and threads in the workspace (stops fork bombs)."
  type         = "number"
  default      = var.pids
  mutable      = true
  validation {
    min = 64
    max = floor(var.pids_max)
  }
}

# GitLab through Coder's external auth: the developer links GitLab once in
# Coder; Git in the workspace asks the agent for a short-lived OAuth token
# (GIT_ASKPASS, set by the agent), so no personal access token is ever stored.
# The id must match one of the Coder server's external auth providers
# (coder_external_auth_providers; Coder refuses to import the template
# otherwise, and the role's preflight refuses it first). Linking is optional
# unless gitlab_link_required is true: without it a workspace can be created
# before the developer has linked GitLab.
variable "gitlab_link_required" {
  description = "Whether every developer must link GitLab before creating a workspace."
  type        = bool
  default     = false
}

data "coder_external_auth" "gitlab" {
  id       = "gitlab"
  optional = !var.gitlab_link_required
}

locals {
  workspace_labels = {
    "coder.owner"          = data.coder_workspace_owner.me.name
    "coder.owner_id"       = data.coder_workspace_owner.me.id
    "coder.workspace_id"   = data.coder_workspace.me.id
    "coder.workspace_name" = data.coder_workspace.me.name
  }
}

resource "coder_agent" "main" {
  arch = data.coder_provisioner.me.arch
  os   = "linux"

  startup_script = <<-EOT
    set -e
    # First start: give the persistent home the image's skeleton files.
    if [ ! -f ~/.init_done ]; then
      cp -rT /etc/skel ~
      touch ~/.init_done
    fi
  EOT

  # Commit identity from the Coder account. Credentials are not here: Git gets
  # them on demand from the GitLab external auth via the agent's GIT_ASKPASS.
  env = {
    GIT_AUTHOR_NAME         = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_AUTHOR_EMAIL        = data.coder_workspace_owner.me.email
    GIT_COMMITTER_NAME      = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_COMMITTER_EMAIL     = data.coder_workspace_owner.me.email
    # For scripts: `coder external-auth access-token $GITLAB_EXTERNAL_AUTH_ID`
    # prints a fresh token when one is needed outside Git.
    GITLAB_EXTERNAL_AUTH_ID = data.coder_external_auth.gitlab.id
  }
}

# The home volume outlives the container: stopping, starting, rebuilding or
# changing the image never touches it (ignore_changes = all), so uncommitted
# work survives. It is deleted only when the workspace itself is deleted.
resource "docker_volume" "home" {
  name = "coder-${data.coder_workspace.me.id}-home"

  lifecycle {
    ignore_changes = all
  }

  dynamic "labels" {
    for_each = local.workspace_labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "workspace" {
  count    = data.coder_workspace.me.start_count
  image    = var.workspace_image
  name     = "coder-${data.coder_workspace_owner.me.name}-${lower(data.coder_workspace.me.name)}"
  hostname = data.coder_workspace.me.name

  entrypoint = ["sh", "-c", coder_agent.main.init_script]
  env        = ["CODER_AGENT_TOKEN=${coder_agent.main.token}"]

  # Limits inside the workspace host's slice (daemon.json cgroup-parent).
  memory      = data.coder_parameter.memory_mb.value
  memory_swap = data.coder_parameter.memory_mb.value
  cpus        = tostring(data.coder_parameter.cpus.value)

  # Hardening: never privileged, no extra capabilities, no Docker socket.
  privileged = false
  capabilities {
    drop = ["NET_RAW", "MKNOD", "AUDIT_WRITE"]
  }
  security_opts = ["no-new-privileges:true"]

  volumes {
    container_path = "/home/coder"
    volume_name    = docker_volume.home.name
    read_only      = false
  }

  dynamic "labels" {
    for_each = local.workspace_labels
    content {
      label = labels.key
      value = labels.value
    }
  }

  # The process limit the developer chose. kreuzwerker/docker has no
  # pids_limit argument, and nothing here may need a host-side CLI (the
  # official Coder image has no docker CLI; a cluster's Coder server has no
  # Docker): the workspace host applies this label's value, capped at its
  # maximum, to every container labelled coder.workspace_id as it is
  # created (g448.devenv.workspace_host, g448-workspace-pids.service), and
  # the host's workspace slice caps all workspaces together (TasksMax).
  labels {
    label = "g448.devenv.pids_limit"
    value = tostring(data.coder_parameter.pids.value)
  }
}
