<?php
// Router for `php -S` serving the Debian MediaWiki tree (/usr/share/mediawiki)
// with a LocalSettings.php that lives outside of it (see start.sh).
//
// MediaWiki 1.38+ reads the settings file location from the MW_CONFIG_FILE
// constant (entry-point wrappers) or the MW_CONFIG_FILE environment variable;
// start.sh exports the variable and we also define the constant here, so the
// package's own /etc/mediawiki/LocalSettings.php is never involved.
$cfg = getenv( 'MW_CONFIG_FILE' );
if ( $cfg && !defined( 'MW_CONFIG_FILE' ) ) {
	define( 'MW_CONFIG_FILE', $cfg );
}

$root = rtrim( $_SERVER['DOCUMENT_ROOT'], '/' );
$path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );
if ( !is_string( $path ) || $path === '' ) {
	$path = '/';
}
$path = rawurldecode( $path );

// Entry points: /api.php, /index.php/Title, /load.php, /rest.php/..., ...
if ( preg_match( '#^/([A-Za-z_]+\.php)(/.*)?$#', $path, $m ) && is_file( "$root/{$m[1]}" ) ) {
	$script = $m[1];
	$_SERVER['SCRIPT_NAME'] = "/$script";
	$_SERVER['PHP_SELF'] = "/$script" . ( $m[2] ?? '' );
	$_SERVER['SCRIPT_FILENAME'] = "$root/$script";
	if ( isset( $m[2] ) && $m[2] !== '' ) {
		$_SERVER['PATH_INFO'] = $m[2];
	} else {
		unset( $_SERVER['PATH_INFO'] );
	}
	chdir( $root );
	require "$root/$script";
	return true;
}

// Static files (skins, resources, favicon...): let the built-in server send them.
if ( $path !== '/' && strpos( $path, '..' ) === false && is_file( $root . $path ) ) {
	return false;
}

// Anything else (including "/"): the main entry point.
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = "$root/index.php";
chdir( $root );
require "$root/index.php";
return true;
