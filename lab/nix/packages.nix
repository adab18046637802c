# The lab's package set. Each entry names the package in release a and in
# release b (null: absent from that release), its runtime dependencies, a
# size in KiB (real sizes scaled down), the commands it puts in bin/, and
# `rebuild` for packages whose b build differs only in hash.
#
# a -> b is shaped like a NixOS point-release upgrade: some packages move up,
# htop moves down, jq and ripgrep appear, nano and python3.11-chardet vanish,
# bash and util-linux are rebuilt at the same version.
{ release, bump, kernel }:
let
  table = {
    glibc = { a = "glibc-2.39-52"; b = "glibc-2.39-52"; kb = 30; bin = [ "ldd" "getent" ]; };
    gcc-lib = { a = "gcc-13.2.0-lib"; b = "gcc-13.2.0-lib"; deps = [ "glibc" ]; kb = 8; };
    zlib = { a = "zlib-1.3.1"; b = "zlib-1.3.1"; deps = [ "glibc" ]; kb = 1; };
    xz = { a = "xz-5.4.6"; b = "xz-5.4.6"; deps = [ "glibc" ]; kb = 2; bin = [ "xz" ]; };
    bzip2 = { a = "bzip2-1.0.8"; b = "bzip2-1.0.8"; deps = [ "glibc" ]; kb = 1; };
    zstd = { a = "zstd-1.5.6"; b = "zstd-1.5.6"; deps = [ "glibc" ]; kb = 2; bin = [ "zstd" ]; };
    lz4 = { a = "lz4-1.9.4-lib"; b = "lz4-1.9.4-lib"; deps = [ "glibc" ]; kb = 1; };
    libffi = { a = "libffi-3.4.6"; b = "libffi-3.4.6"; deps = [ "glibc" ]; kb = 1; };
    libxcrypt = { a = "libxcrypt-4.4.36"; b = "libxcrypt-4.4.36"; deps = [ "glibc" ]; kb = 1; };
    libcap = { a = "libcap-2.70-lib"; b = "libcap-2.70-lib"; deps = [ "glibc" ]; kb = 1; };
    libseccomp = { a = "libseccomp-2.5.5-lib"; b = "libseccomp-2.5.5-lib"; deps = [ "glibc" ]; kb = 1; };
    attr = { a = "attr-2.5.2"; b = "attr-2.5.2"; deps = [ "glibc" ]; kb = 1; };
    acl = { a = "acl-2.3.2"; b = "acl-2.3.2"; deps = [ "glibc" "attr" ]; kb = 1; };
    gmp = { a = "gmp-with-cxx-6.3.0"; b = "gmp-with-cxx-6.3.0"; deps = [ "glibc" "gcc-lib" ]; kb = 2; };
    openssl = { a = "openssl-3.0.14"; b = "openssl-3.0.15"; deps = [ "glibc" ]; kb = 12; bin = [ "openssl" ]; };
    ncurses = { a = "ncurses-6.4.20221231"; b = "ncurses-6.4.20221231"; deps = [ "glibc" ]; kb = 6; };
    readline = { a = "readline-8.2p10"; b = "readline-8.2p10"; deps = [ "ncurses" ]; kb = 2; };
    bash = { a = "bash-5.2p32"; b = "bash-5.2p32"; deps = [ "glibc" ]; kb = 4; bin = [ "bash" "sh" ]; rebuild = true; };
    bash-interactive = { a = "bash-interactive-5.2p32"; b = "bash-interactive-5.2p32"; deps = [ "readline" "ncurses" ]; kb = 5; };
    coreutils = { a = "coreutils-9.5"; b = "coreutils-9.5"; deps = [ "acl" "attr" "gmp" "openssl" ]; kb = 9; bin = [ "ls" "cat" "cp" "mv" "date" ]; };
    findutils = { a = "findutils-4.9.0"; b = "findutils-4.9.0"; deps = [ "coreutils" ]; kb = 2; bin = [ "find" "xargs" ]; };
    diffutils = { a = "diffutils-3.10"; b = "diffutils-3.10"; deps = [ "coreutils" ]; kb = 2; bin = [ "diff" "cmp" ]; };
    gnugrep = { a = "gnugrep-3.11"; b = "gnugrep-3.11"; deps = [ "pcre2" ]; kb = 1; bin = [ "grep" ]; };
    gnused = { a = "gnused-4.9"; b = "gnused-4.9"; deps = [ "glibc" ]; kb = 1; bin = [ "sed" ]; };
    gawk = { a = "gawk-5.2.2"; b = "gawk-5.2.2"; deps = [ "readline" "gmp" ]; kb = 3; bin = [ "awk" "gawk" ]; };
    gnutar = { a = "gnutar-1.35"; b = "gnutar-1.35"; deps = [ "acl" ]; kb = 3; bin = [ "tar" ]; };
    gzip = { a = "gzip-1.13"; b = "gzip-1.13"; deps = [ "glibc" ]; kb = 1; bin = [ "gzip" ]; };
    less = { a = "less-643"; b = "less-643"; deps = [ "ncurses" ]; kb = 1; bin = [ "less" ]; };
    pcre2 = { a = "pcre2-10.43"; b = "pcre2-10.43"; deps = [ "glibc" ]; kb = 2; };
    util-linux-lib = { a = "util-linux-2.39.4-lib"; b = "util-linux-2.39.4-lib"; deps = [ "glibc" ]; kb = 3; rebuild = true; };
    util-linux = { a = "util-linux-2.39.4-bin"; b = "util-linux-2.39.4-bin"; deps = [ "util-linux-lib" "ncurses" "libcap" ]; kb = 5; bin = [ "mount" "lsblk" "findmnt" ]; rebuild = true; };
    kmod = { a = "kmod-31"; b = "kmod-31"; deps = [ "xz" "zstd" "openssl" ]; kb = 1; bin = [ "modprobe" ]; };
    procps = { a = "procps-3.3.17"; b = "procps-3.3.17"; deps = [ "ncurses" "systemd-minimal-libs" ]; kb = 2; bin = [ "ps" "free" ]; };
    systemd-minimal-libs = { a = "systemd-minimal-libs-255.9"; b = "systemd-minimal-libs-255.10"; deps = [ "glibc" "libcap" ]; kb = 3; };
    linux-pam = { a = "linux-pam-1.6.1"; b = "linux-pam-1.6.1"; deps = [ "libxcrypt" ]; kb = 2; };
    dbus = { a = "dbus-1.14.10"; b = "dbus-1.14.10"; deps = [ "expat" "systemd-minimal-libs" ]; kb = 2; };
    systemd = { a = "systemd-255.9"; b = "systemd-255.10"; deps = [ "libcap" "libseccomp" "lz4" "xz" "zstd" "openssl" "kmod" "util-linux-lib" "linux-pam" "acl" ]; kb = 25; tools = true; };
    shadow = { a = "shadow-4.14.6"; b = "shadow-4.14.6"; deps = [ "linux-pam" "libxcrypt" ]; kb = 2; bin = [ "passwd" "su" ]; };
    openssh = { a = "openssh-9.7p1"; b = "openssh-9.7p1"; deps = [ "openssl" "zlib" "linux-pam" "libxcrypt" ]; kb = 5; bin = [ "ssh" "ssh-keygen" ]; };
    iproute2 = { a = "iproute2-6.9.0"; b = "iproute2-6.10.0"; deps = [ "libcap" ]; kb = 2; bin = [ "ip" "ss" ]; };
    iptables = { a = "iptables-1.8.10"; b = "iptables-1.8.10"; deps = [ "glibc" ]; kb = 2; bin = [ "iptables" ]; };
    e2fsprogs = { a = "e2fsprogs-1.47.1-bin"; b = "e2fsprogs-1.47.1-bin"; deps = [ "util-linux-lib" ]; kb = 2; bin = [ "mkfs.ext4" ]; };
    expat = { a = "expat-2.6.2"; b = "expat-2.6.2"; deps = [ "glibc" ]; kb = 1; };
    sqlite = { a = "sqlite-3.45.3"; b = "sqlite-3.46.0"; deps = [ "readline" "zlib" ]; kb = 4; };
    nghttp2 = { a = "nghttp2-1.61.0-lib"; b = "nghttp2-1.61.0-lib"; deps = [ "glibc" ]; kb = 1; };
    libidn2 = { a = "libidn2-2.3.7"; b = "libidn2-2.3.7"; deps = [ "glibc" ]; kb = 1; };
    krb5 = { a = "krb5-1.21.3-lib"; b = "krb5-1.21.3-lib"; deps = [ "openssl" ]; kb = 3; };
    curl = { a = "curl-8.7.1"; b = "curl-8.9.1"; deps = [ "openssl" "zlib" "nghttp2" "libidn2" "krb5" "zstd" ]; kb = 3; bin = [ "curl" ]; };
    python3 = { a = "python3-3.11.9"; b = "python3-3.11.10"; deps = [ "openssl" "zlib" "libffi" "sqlite" "expat" "readline" "ncurses" "bzip2" "xz" ]; kb = 40; bin = [ "python3" ]; };
    py-idna = { a = "python3.11-idna-3.7"; b = "python3.11-idna-3.7"; deps = [ "python3" ]; kb = 1; };
    py-certifi = { a = "python3.11-certifi-2024.02.02"; b = "python3.11-certifi-2024.07.04"; deps = [ "python3" "cacert" ]; kb = 1; };
    py-charset = { a = "python3.11-charset-normalizer-3.3.2"; b = "python3.11-charset-normalizer-3.3.2"; deps = [ "python3" ]; kb = 1; };
    py-chardet = { a = "python3.11-chardet-5.2.0"; b = null; deps = [ "python3" ]; kb = 2; };
    py-urllib3 = { a = "python3.11-urllib3-2.2.1"; b = "python3.11-urllib3-2.2.2"; deps = [ "python3" ]; kb = 1; };
    py-requests = { a = "python3.11-requests-2.31.0"; b = "python3.11-requests-2.32.3"; deps = [ "python3" "py-idna" "py-certifi" "py-charset" "py-chardet" "py-urllib3" ]; kb = 1; };
    cacert = { a = "nss-cacert-3.101"; b = "nss-cacert-3.104"; kb = 1; };
    tzdata = { a = "tzdata-2024a"; b = "tzdata-2024b"; kb = 2; };
    perl = { a = "perl-5.38.2"; b = "perl-5.38.2"; deps = [ "glibc" ]; kb = 20; bin = [ "perl" ]; };
    git = { a = "git-2.44.1"; b = "git-2.45.2"; deps = [ "curl" "openssl" "perl" "pcre2" "zlib" "expat" ]; kb = 10; bin = [ "git" ]; };
    vim = { a = "vim-9.1.0412"; b = "vim-9.1.0412"; deps = [ "ncurses" ]; kb = 8; bin = [ "vim" ]; };
    nano = { a = "nano-7.2"; b = null; deps = [ "ncurses" ]; kb = 1; bin = [ "nano" ]; };
    htop = { a = "htop-3.3.0"; b = "htop-3.2.2"; deps = [ "ncurses" ]; kb = 1; bin = [ "htop" ]; };
    tmux = { a = "tmux-3.4"; b = "tmux-3.4"; deps = [ "ncurses" ]; kb = 1; bin = [ "tmux" ]; };
    jq = { a = null; b = "jq-1.7.1"; deps = [ "glibc" ]; kb = 1; bin = [ "jq" ]; };
    ripgrep = { a = null; b = "ripgrep-14.1.0"; deps = [ "gcc-lib" "pcre2" ]; kb = 4; bin = [ "rg" ]; };
    nix = { a = "nix-2.18.5"; b = "nix-2.18.5"; deps = [ "openssl" "curl" "sqlite" "libseccomp" "xz" "bzip2" ]; kb = 10; bin = [ "nix" "nix-store" "nix-env" ]; };
    nginx = { a = "nginx-1.26.1"; b = "nginx-1.26.2"; deps = [ "openssl" "pcre2" "zlib" ]; kb = 3; bin = [ "nginx" ]; files = [ "conf/mime.types" ]; };
    postgresql = { a = "postgresql-15.7"; b = "postgresql-15.8"; deps = [ "openssl" "readline" "zlib" "libxcrypt" "systemd-minimal-libs" ]; kb = 12; bin = [ "postgres" "psql" ]; };
    node-exporter = { a = "prometheus-node-exporter-1.8.1"; b = "prometheus-node-exporter-1.8.1"; kb = 6; bin = [ "node_exporter" ]; };
    cronie = { a = "cronie-1.7.2"; b = "cronie-1.7.2"; deps = [ "glibc" ]; kb = 1; bin = [ "crond" ]; };
    linux-firmware = { a = "linux-firmware-20240610"; b = "linux-firmware-20240610"; kb = 50; };
    lab-app = { a = "nixdeck-lab-app-1.0.${toString bump}"; b = "nixdeck-lab-app-1.1.${toString bump}"; deps = [ "python3" "py-requests" ]; kb = 1; bin = [ "lab-app" ]; };
    linux = { a = "linux-${kernel}"; b = "linux-${kernel}"; kb = 12; files = [ "bzImage" "System.map" ]; };
    linux-modules = { a = "linux-${kernel}-modules"; b = "linux-${kernel}-modules"; deps = [ "linux" ]; kb = 30; files = [ "lib/modules/${kernel}/modules.dep" ]; };
    initrd = { a = "initrd-linux-${kernel}"; b = "initrd-linux-${kernel}"; deps = [ "linux-modules" ]; kb = 10; files = [ "initrd" ]; };
  };

  present = builtins.filter (k: table.${k}.${release} != null) (builtins.attrNames table);

  mk = key: spec: derivation ({
    name = spec.${release};
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" (builtins.readFile ./build-package.sh) ];
    deps = map (d: pkgs.${d}) (builtins.filter (d: pkgs ? ${d}) (spec.deps or [ ]));
    bins = toString (spec.bin or [ ]);
    files = toString (spec.files or [ ]);
    kb = toString spec.kb;
    rev = if (spec.rebuild or false) && release == "b" then "2" else "1";
  } // (if spec.tools or false then {
    journalctl = builtins.readFile ./journalctl.sh;
    systemctl = builtins.readFile ./systemctl.sh;
  } else { }));

  pkgs = builtins.listToAttrs (map (k: { name = k; value = mk k table.${k}; }) present);
in
pkgs
