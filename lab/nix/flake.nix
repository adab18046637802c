# The nixdeck lab fleet: one NixOS-shaped system per lab host, built from
# plain derivations (no nixpkgs). state.json (written by `nixdeck lab`)
# says per host which release, fault and bump counter to build.
{
  description = "nixdeck lab fleet";

  outputs = { self }:
    let
      state = builtins.fromJSON (builtins.readFile ./state.json);
      mkSystem = import ./system.nix;
    in {
      nixosConfigurations = builtins.mapAttrs (name: host: {
        config.system.build.toplevel = mkSystem { inherit name host; };
      }) state.hosts;
    };
}
