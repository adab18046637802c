#!/usr/bin/perl
# Health endpoint of a nixdeck lab host (written by nixdeck lab).
#
# usage: perl healthd.pl PORT RUNDIR
#
# Listens on 127.0.0.1:PORT (0: a free port), then goes into the background
# like sshd: once this command returns, the endpoint answers. It prints the
# port on stdout and writes the server's pid to RUNDIR/healthd.pid.
#
# GET /healthz answers 200 "running SYSTEM" while the host is healthy and
# 503 "degraded: UNITS" while RUNDIR/failed-units names failed units (what
# `systemctl is-system-running` reads); anything else is 404 or 405.
#
# Perl because perl-base is Essential in Debian: every lab machine has it.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();

my ($port, $rundir) = @ARGV;
die "usage: healthd.pl PORT RUNDIR\n" unless defined $rundir && $port =~ /^\d+$/;

my $srv = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => $port,
	Listen    => 128,
	ReuseAddr => 1,
	Proto     => 'tcp',
) or die "healthd: cannot listen on 127.0.0.1:$port: $!\n";

my $pid = fork;
die "healthd: fork: $!\n" unless defined $pid;
if ($pid) {
	write_file("$rundir/healthd.pid", "$pid\n");
	print $srv->sockport, "\n";
	exit 0;
}

# The server keeps nothing of its caller: not its session (an activation's
# process group may be killed), nor its output (a caller waiting for the
# end of it would wait forever), nor the switch lock on descriptor 9.
POSIX::setsid();
open STDIN,  '<',  '/dev/null';
open STDOUT, '>',  '/dev/null';
open STDERR, '>>', "$rundir/healthd.log";
POSIX::close($_) for grep { $_ != fileno($srv) } 3 .. 1023;
$SIG{PIPE} = 'IGNORE';

while (1) {
	my $c = $srv->accept or next;
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 5;
		serve($c);
		alarm 0;
	};
	alarm 0;
	close $c;
}

# serve answers one request, reading at most 8 KiB of it.
sub serve {
	my ($c) = @_;
	my $req = '';
	while ($req !~ /\r?\n\r?\n/ && length $req < 8192) {
		my $n = sysread $c, $req, 8192 - length $req, length $req;
		last unless $n;
	}
	my ($method, $path) = $req =~ m{^(\S+) (\S+) HTTP/1\.[01]\r?\n};
	return reply($c, 400, "bad request\n") unless defined $path;
	$path =~ s/\?.*//s;
	return reply($c, 404, "not found\n") unless $path eq '/healthz';
	return reply($c, 405, "method not allowed\n") unless $method eq 'GET' || $method eq 'HEAD';
	my $failed = read_file("$rundir/failed-units", 4096);
	if ($failed =~ /\S/) {
		my @units = split ' ', $failed;
		return reply($c, 503, "degraded: @units\n", $method);
	}
	my $sys = readlink '/run/current-system';
	return reply($c, 503, "starting: no system\n", $method) unless defined $sys;
	return reply($c, 200, "running $sys\n", $method);
}

sub reply {
	my ($c, $code, $body, $method) = @_;
	my %text = (200 => 'OK', 400 => 'Bad Request', 404 => 'Not Found', 405 => 'Method Not Allowed', 503 => 'Service Unavailable');
	my $head = "HTTP/1.1 $code $text{$code}\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n";
	$head .= $body unless defined $method && $method eq 'HEAD';
	syswrite $c, $head;
}

# read_file returns the first max bytes of a file, '' when it is missing.
sub read_file {
	my ($path, $max) = @_;
	open my $fh, '<', $path or return '';
	my $s = '';
	read $fh, $s, $max;
	close $fh;
	return $s;
}

sub write_file {
	my ($path, $text) = @_;
	open my $fh, '>', "$path.tmp" or die "healthd: $path.tmp: $!\n";
	print $fh $text;
	close $fh or die "healthd: $path.tmp: $!\n";
	rename "$path.tmp", $path or die "healthd: $path: $!\n";
}
