#!/usr/bin/perl
# A mail client written with Perl Mail::IMAPClient (Debian
# libmail-imapclient-perl): what a typical script that reads, files and
# flags mail sends.  Its own debug log (Debug => 1, to LOG) is the ground
# truth: truth.py --log perl:LOG reads the "Sending:" and "Read:" lines.
#
#   perl-client.pl HOST PORT USER PASSWORD LOG [CRAM-USER CRAM-PASSWORD]
use strict;
use warnings;
use Mail::IMAPClient;

my ($host, $port, $user, $pass, $log, $cuser, $cpass) = @ARGV;
open(my $fh, '>>', $log) or die "$log: $!";
$fh->autoflush(1);

sub connect_as {
    my ($u, $p, %opt) = @_;
    my $imap = Mail::IMAPClient->new(Server => $host, Port => $port, User => $u,
        Password => $p, Debug => 1, Debug_fh => $fh, Uid => 1, Timeout => 20, %opt)
        or die "connect: $@";
    return $imap;
}

my $imap = connect_as($user, $pass);
my @folders = $imap->folders;
$imap->select('INBOX') or die "select: " . $imap->LastError;
my $uids = $imap->search('ALL') || [];
for my $uid (@$uids[0 .. ($#$uids < 2 ? $#$uids : 2)]) {
    my $h = $imap->parse_headers($uid, 'Subject', 'From', 'Date');
    my $b = $imap->message_string($uid);
}
my $sizes = $imap->fetch_hash('RFC822.SIZE', 'FLAGS');
if (@$uids) {
    $imap->set_flag('Flagged', $uids->[0]);
    $imap->unset_flag('Flagged', $uids->[0]);
    $imap->copy('Archive', $uids->[0]);
}
my $new = $imap->append_string('Archive',
    "From: Perl <perl\@example.test>\r\nSubject: filed by Mail::IMAPClient {3}\r\n\r\n"
    . "body line\r\n* 1 EXISTS\r\n", '\\Seen');
my $unseen = $imap->unseen_count('INBOX');
my $st = $imap->status('Archive', 'MESSAGES', 'UIDNEXT');
$imap->examine('Archive');
my $arch = $imap->search('SUBJECT', $imap->Quote('Mail::IMAPClient'));
$imap->select('INBOX');
if ($imap->has_capability('IDLE')) {
    my $tag = $imap->idle;
    $imap->idle_data(1);
    $imap->done($tag);
}
$imap->noop;
$imap->logout;

if ($cuser) {
    # a server may list CRAM-MD5 yet refuse it (GNU imap4d with virtual
    # domains has no clear-text password to check it against): the log
    # keeps the refusal
    my $c = Mail::IMAPClient->new(Server => $host, Port => $port, User => $cuser,
        Password => $cpass, Debug => 1, Debug_fh => $fh, Uid => 1, Timeout => 20,
        Authmechanism => 'CRAM-MD5');
    if ($c) {
        $c->examine('INBOX');
        $c->logout;
    }
}
