<?php
/*
 * Router for `php -S` serving one Gatejumper test WordPress (the Debian package).
 *
 * Picks the instance config (see config-gatejumper.php), serves static files and the
 * instance's wp-content, runs existing PHP files, and sends everything else to
 * index.php the way Apache's rewrite rules would, so pretty permalinks and /wp-json/ work.
 */

function gatejumper_route(): ?string
{
    $root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
    $path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/');
    if (str_contains($path, '..') || str_contains($path, "\0")) {
        http_response_code(400);
        exit;
    }
    if (str_starts_with($path, '/wp-content/')) {
        gatejumper_send_content(getenv('GATEJUMPER_WP_CONTENT') . substr($path, strlen('/wp-content')));
    }
    $file = $root . $path;
    if (is_dir($file) && is_file(rtrim($file, '/') . '/index.php')) {
        $file = rtrim($file, '/') . '/index.php';
    }
    if (is_file($file) && !str_ends_with($file, '.php')) {
        return null;
    }
    if (!is_file($file)) {
        $file = $root . '/index.php';
    }
    $script = substr($file, strlen($root));
    $_SERVER['SCRIPT_NAME'] = $script;
    $_SERVER['PHP_SELF'] = $script;
    $_SERVER['SCRIPT_FILENAME'] = $file;
    unset($_SERVER['PATH_INFO'], $_SERVER['ORIG_PATH_INFO']);
    chdir(dirname($file));
    return $file;
}

function gatejumper_send_content(string $file): never
{
    if (!is_file($file) || str_ends_with($file, '.php')) {
        http_response_code(404);
        exit;
    }
    $types = ['png' => 'image/png', 'jpg' => 'image/jpeg', 'gif' => 'image/gif', 'css' => 'text/css'];
    $extension = strtolower(pathinfo($file, PATHINFO_EXTENSION));
    header('Content-Type: ' . ($types[$extension] ?? 'application/octet-stream'));
    header('Content-Length: ' . filesize($file));
    readfile($file);
    exit;
}

$_SERVER['WORDPRESS_CONFIG'] = 'gatejumper';
$gatejumper_script = gatejumper_route();
if ($gatejumper_script === null) {
    return false;
}
require $gatejumper_script;
