# One lab host's system: the NixOS top-level shape (bin/switch-to-configuration,
# kernel, initrd, kernel-modules, sw, etc, nixos-version) over the lab
# package set. `host` comes from state.json: role, release, fault,
# degrade_after (seconds, for the degraded fault), bump.
{ name, host }:
let
  fault = host.fault or "";
  kernel = if fault == "reboot" then "6.6.63" else "6.6.58";
  pkgs = import ./packages.nix { inherit (host) release bump; inherit kernel; };
  version = { a = "24.05.20240901.1f4e2a0"; b = "24.05.20241015.7c3d9b5"; }.${host.release};
  isWeb = host.role != "db";

  # mkText is a store file with the given text, like nixpkgs' writeText.
  mkText = fname: text: derivation {
    name = fname;
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" "printf '%s' \"$text\" > \"$out\"" ];
    inherit text;
  };

  mkUnit = uname: desc: exec: mkText "unit-${uname}" ''
    [Unit]
    Description=${desc}
    After=network.target

    [Service]
    ExecStart=${exec}
    Restart=always

    [Install]
    WantedBy=multi-user.target
  '';

  units = [
    (mkUnit "sshd.service" "SSH Daemon" "${pkgs.openssh}/bin/sshd -D -f /etc/ssh/sshd_config")
    (mkUnit "systemd-journald.service" "Journal Service" "${pkgs.systemd}/lib/systemd/systemd-journald")
    (mkUnit "dbus.service" "D-Bus System Message Bus" "${pkgs.dbus}/bin/dbus-daemon --system")
    (mkUnit "nscd.service" "Name Service Cache Daemon" "${pkgs.glibc}/bin/nscd -F")
    (mkUnit "cron.service" "Cron Daemon" "${pkgs.cronie}/bin/crond -n")
    (mkUnit "prometheus-node-exporter.service" "Prometheus exporter for machine metrics" "${pkgs.node-exporter}/bin/node_exporter")
    (mkUnit "lab-app.service" "nixdeck lab application" "${pkgs.lab-app}/bin/lab-app --config /etc/lab-app/config.json")
  ] ++ (if isWeb then [
    (mkUnit "nginx.service" "Nginx Web Server" "${pkgs.nginx}/bin/nginx -c /etc/nginx/nginx.conf")
  ] else [
    (mkUnit "postgresql.service" "PostgreSQL Server" "${pkgs.postgresql}/bin/postgres -c config_file=/etc/postgresql/postgresql.conf")
  ]);

  systemUnits = derivation {
    name = "system-units";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" ''
      /bin/mkdir -p "$out"
      for u in $units; do /bin/ln -s "$u" "$out/''${u#*-unit-}"; done
    '' ];
    inherit units;
  };

  osRelease = mkText "etc-os-release" ''
    ANSI_COLOR="1;34"
    BUILD_ID="${version}"
    DOCUMENTATION_URL="https://nixos.org/learn.html"
    HOME_URL="https://nixos.org/"
    ID=nixos
    LOGO="nix-snowflake"
    NAME=NixOS
    PRETTY_NAME="NixOS 24.05 (Uakari)"
    VERSION="24.05 (Uakari)"
    VERSION_CODENAME=uakari
    VERSION_ID="24.05"
  '';

  nginxConf = if host.release == "a" then ''
    user nginx nginx;
    worker_processes auto;
    events {
      worker_connections 1024;
    }
    http {
      include ${pkgs.nginx}/conf/mime.types;
      sendfile on;
      server {
        listen 0.0.0.0:80;
        server_name ${name};
        location /healthz { return 200 "ok"; }
        location / { root /var/www; }
      }
    }
  '' else ''
    user nginx nginx;
    worker_processes auto;
    events {
      worker_connections 2048;
    }
    http {
      include ${pkgs.nginx}/conf/mime.types;
      sendfile on;
      gzip on;
      gzip_types text/plain application/json;
      server {
        listen 0.0.0.0:80;
        server_name ${name};
        ssl_protocols TLSv1.2 TLSv1.3;
        location /healthz { return 200 "ok"; }
        location / { root /var/www; }
      }
    }
  '';

  postgresqlConf = ''
    listen_addresses = 'localhost'
    port = 5432
    max_connections = ${if host.release == "a" then "100" else "200"}
    shared_buffers = 128MB
    log_destination = 'stderr'
  '';

  etcFiles = {
    "hostname" = "${name}\n";
    "motd" = "Welcome to ${name} (nixdeck lab, release ${host.release}).\n";
    "nix/nix.conf" = "substituters =\nexperimental-features = nix-command flakes\n";
    "lab-app/config.json" = "{\"host\": \"${name}\", \"release\": \"${host.release}\", \"build\": ${toString host.bump}}\n";
  } // (if isWeb then { "nginx/nginx.conf" = nginxConf; } else { "postgresql/postgresql.conf" = postgresqlConf; });

  writeEtc = path: text: ''
    /bin/mkdir -p "$(/usr/bin/dirname "$out/etc/${path}")"
    /bin/cat > "$out/etc/${path}" <<'NIXDECK_LAB_EOF'
    ${text}NIXDECK_LAB_EOF
  '';

  etc = derivation {
    name = "etc";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" (''
      set -e
      /bin/mkdir -p "$out/etc/systemd" "$out/etc/ssl/certs"
      /bin/ln -s ${systemUnits} "$out/etc/systemd/system"
      /bin/ln -s ${osRelease} "$out/etc/os-release"
      /bin/ln -s ${pkgs.tzdata} "$out/etc/zoneinfo"
      /bin/ln -s ${pkgs.cacert} "$out/etc/ssl/certs/ca-certificates.crt"
    '' + builtins.concatStringsSep "" (builtins.attrValues (builtins.mapAttrs writeEtc etcFiles))) ];
  };

  userPackages = with pkgs; [
    bash coreutils findutils diffutils gnugrep gnused gawk gnutar gzip xz zstd less
    util-linux procps iproute2 iptables kmod e2fsprogs shadow openssh curl git vim htop tmux
    python3 py-requests perl systemd nix lab-app node-exporter cronie glibc openssl
  ] ++ builtins.filter (p: p != null) [ (pkgs.nano or null) (pkgs.jq or null) (pkgs.ripgrep or null) ]
    ++ (if isWeb then [ pkgs.nginx ] else [ pkgs.postgresql ]);

  # sw is the system-path: bin/ links to the packages' commands, and a list
  # that references every user-facing package directly.
  sw = derivation {
    name = "system-path";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" ''
      set -e
      /bin/mkdir -p "$out/bin" "$out/share/nixdeck-lab"
      for p in $pkgs; do
        echo "$p" >> "$out/share/nixdeck-lab/packages"
        [ -d "$p/bin" ] || continue
        for f in "$p"/bin/*; do /bin/ln -sf "$f" "$out/bin/''${f##*/}"; done
      done
    '' ];
    pkgs = userPackages;
  };

  toplevel = derivation {
    name = "nixos-system-${name}-${version}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" ''
      set -e
      /bin/mkdir -p "$out/bin"
      printf '%s' "$stc" > "$out/bin/switch-to-configuration"
      /bin/chmod +x "$out/bin/switch-to-configuration"
      /bin/ln -s "$kernel/bzImage" "$out/kernel"
      /bin/ln -s "$initrd/initrd" "$out/initrd"
      /bin/ln -s "$modules" "$out/kernel-modules"
      /bin/ln -s "$sw" "$out/sw"
      /bin/ln -s "$etc/etc" "$out/etc"
      /bin/ln -s "$systemd" "$out/systemd"
      /bin/ln -s "$firmware" "$out/firmware"
      printf '%s' "$version" > "$out/nixos-version"
      printf '%s' "loglevel=4 console=ttyS0" > "$out/kernel-params"
      printf '%s' "x86_64-linux" > "$out/system"
    '' ];
    stc = builtins.replaceStrings [ "@fault@" "@degrade_after@" ] [ fault (host.degrade_after or "") ] (builtins.readFile ./switch-to-configuration.sh);
    kernel = pkgs.linux;
    initrd = pkgs.initrd;
    modules = pkgs.linux-modules;
    firmware = pkgs.linux-firmware;
    systemd = pkgs.systemd;
    inherit sw etc version;
  };
in
toplevel
