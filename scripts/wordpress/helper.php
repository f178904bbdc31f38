<?php
/*
 * Drive one Gatejumper test WordPress from the command line (tests/wp.py runs it).
 *
 * Reads {"commands": [{"op": ..., ...}, ...]} on stdin, boots WordPress once for the
 * whole batch and prints {"results": [...]} (or {"error": "..."} with exit status 1)
 * on stdout. Things the REST API cannot do (installing, pingbacks, backdated
 * comments, application passwords) happen here, through WordPress's own functions.
 *
 * Environment: GATEJUMPER_WP_CONFIG (instance config file), GATEJUMPER_WP_HOST
 * (host:port of the instance), GATEJUMPER_WP_ROOT (default /usr/share/wordpress).
 */

ini_set('display_errors', 'stderr');
error_reporting(E_ALL & ~E_DEPRECATED & ~E_USER_DEPRECATED);

function gatejumper_fail(string $message): never
{
    while (ob_get_level() > 0) {
        ob_end_clean();
    }
    fwrite(STDOUT, json_encode(['error' => $message]) . "\n");
    exit(1);
}

set_exception_handler(function (Throwable $error): void {
    gatejumper_fail(get_class($error) . ': ' . $error->getMessage() . ' at ' . $error->getFile() . ':' . $error->getLine());
});

$gatejumper_request = json_decode(stream_get_contents(STDIN), true);
if (!is_array($gatejumper_request) || !is_array($gatejumper_request['commands'] ?? null)) {
    gatejumper_fail('expected {"commands": [...]} on stdin');
}
if (!getenv('GATEJUMPER_WP_CONFIG') || !getenv('GATEJUMPER_WP_HOST')) {
    gatejumper_fail('GATEJUMPER_WP_CONFIG and GATEJUMPER_WP_HOST must be set');
}

$_SERVER['WORDPRESS_CONFIG'] = 'gatejumper';
$_SERVER['HTTP_HOST'] = getenv('GATEJUMPER_WP_HOST');
$_SERVER['SERVER_NAME'] = parse_url('http://' . getenv('GATEJUMPER_WP_HOST'), PHP_URL_HOST);
$_SERVER['SERVER_PORT'] = (string) (parse_url('http://' . getenv('GATEJUMPER_WP_HOST'), PHP_URL_PORT) ?: 80);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

$gatejumper_installing = ($gatejumper_request['commands'][0]['op'] ?? '') === 'install';
if ($gatejumper_installing) {
    define('WP_INSTALLING', true);
}

ob_start();
require rtrim(getenv('GATEJUMPER_WP_ROOT') ?: '/usr/share/wordpress', '/') . '/wp-load.php';

// A test WordPress talks to nobody: no update checks, no pingbacks, no self-tests.
add_filter('pre_http_request', function () {
    return new WP_Error('http_request_blocked', 'the Gatejumper test WordPress makes no HTTP requests');
}, 1);

if (!function_exists('wp_new_blog_notification')) {
    function wp_new_blog_notification(...$args): void
    {
    }
}
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/taxonomy.php';
require_once ABSPATH . 'wp-admin/includes/comment.php';

function gatejumper_local(string $gmt): string
{
    return get_date_from_gmt($gmt, 'Y-m-d H:i:s');
}

function gatejumper_user_id(string $login): int
{
    $user = get_user_by('login', $login);
    if (!$user) {
        throw new RuntimeException("no such user: $login");
    }
    return $user->ID;
}

function gatejumper_check($result, string $what)
{
    if (is_wp_error($result)) {
        throw new RuntimeException("$what: " . $result->get_error_message());
    }
    if ($result === false || $result === 0) {
        throw new RuntimeException("$what failed");
    }
    return $result;
}

function op_install(array $c): array
{
    $result = wp_install($c['title'], $c['admin_login'], $c['admin_email'], true, '', $c['admin_password']);
    update_option('blogdescription', $c['description'] ?? '');
    update_option('timezone_string', '');
    update_option('gmt_offset', 0);
    update_option('comment_moderation', 0);
    update_option('comment_previously_approved', 0);
    update_option('thread_comments_depth', 10);
    switch_theme($c['theme'] ?? 'gatejumper');
    wp_delete_post(1, true);  // "Hello world!" and its comment
    wp_delete_post(2, true);  // "Sample Page"
    return ['user_id' => $result['user_id']];
}

function op_create_user(array $c): array
{
    $user_id = username_exists($c['login']);
    if (!$user_id) {
        $user_id = gatejumper_check(wp_insert_user([
            'user_login' => $c['login'],
            'user_pass' => $c['password'] ?? wp_generate_password(24),
            'user_email' => $c['email'],
            'display_name' => $c['display_name'] ?? $c['login'],
            'nickname' => $c['display_name'] ?? $c['login'],
            'role' => $c['role'],
        ]), "creating user {$c['login']}");
    }
    [$password] = gatejumper_check(
        WP_Application_Passwords::create_new_application_password($user_id, ['name' => $c['app_name'] ?? 'gatejumper-tests']),
        "creating an application password for {$c['login']}"
    );
    return ['user_id' => $user_id, 'app_password' => $password];
}

function op_create_post(array $c): array
{
    $category_ids = [];
    foreach ($c['categories'] ?? [] as $name) {
        $category_ids[] = (int) gatejumper_check(wp_create_category($name), "creating category $name");
    }
    $date_gmt = $c['date_gmt'] ?? gmdate('Y-m-d H:i:s');
    $post_id = gatejumper_check(wp_insert_post([
        'post_title' => $c['title'],
        'post_content' => $c['content'],
        'post_excerpt' => $c['excerpt'] ?? '',
        'post_status' => $c['status'] ?? 'publish',
        'post_author' => gatejumper_user_id($c['author']),
        'post_date' => gatejumper_local($date_gmt),
        'post_date_gmt' => $date_gmt,
        'post_category' => $category_ids,
        'comment_status' => 'open',
        'ping_status' => 'open',
    ], true), "creating post {$c['title']}");
    if (!empty($c['image'])) {
        set_post_thumbnail($post_id, gatejumper_attach_image($post_id, $c['image'], $date_gmt));
    }
    return ['post_id' => $post_id, 'link' => get_permalink($post_id)];
}

function gatejumper_attach_image(int $post_id, string $source, string $date_gmt): int
{
    $uploads = wp_upload_dir(substr($date_gmt, 0, 4) . '/' . substr($date_gmt, 5, 2));
    $name = basename($source);
    $target = $uploads['path'] . '/' . $name;
    if (!copy($source, $target)) {
        throw new RuntimeException("cannot copy $source to $target");
    }
    [$width, $height] = getimagesize($target) ?: [0, 0];
    $attachment_id = gatejumper_check(wp_insert_attachment([
        'post_title' => pathinfo($name, PATHINFO_FILENAME),
        'post_mime_type' => wp_check_filetype($name)['type'],
        'post_status' => 'inherit',
        'post_date' => gatejumper_local($date_gmt),
        'post_date_gmt' => $date_gmt,
    ], $target, $post_id, true), "attaching $name");
    $relative = _wp_relative_upload_path($target);
    wp_update_attachment_metadata($attachment_id, ['width' => $width, 'height' => $height, 'file' => $relative, 'sizes' => []]);
    return $attachment_id;
}

function op_create_comments(array $c): array
{
    $ids = [];
    foreach ($c['comments'] as $comment) {
        $ids[] = gatejumper_insert_comment($comment, $ids);
    }
    wp_update_comment_count_now((int) $c['comments'][0]['post_id']);
    return ['ids' => $ids];
}

/* ``parent_ref`` names an earlier comment of the same batch by position. */
function gatejumper_insert_comment(array $comment, array $earlier): int
{
    $parent = (int) ($comment['parent'] ?? 0);
    if (isset($comment['parent_ref'])) {
        $parent = $earlier[(int) $comment['parent_ref']];
    }
    $date_gmt = $comment['date_gmt'] ?? gmdate('Y-m-d H:i:s');
    $type = $comment['type'] ?? 'comment';
    $statuses = ['approved' => '1', 'approve' => '1', 'hold' => '0', 'spam' => 'spam', 'trash' => 'trash'];
    $user_id = empty($comment['user']) ? 0 : gatejumper_user_id($comment['user']);
    $id = wp_insert_comment([
        'comment_post_ID' => (int) $comment['post_id'],
        'comment_author' => $comment['author'],
        'comment_author_email' => $comment['email'] ?? '',
        'comment_author_url' => $comment['url'] ?? '',
        'comment_author_IP' => '127.0.0.1',
        'comment_agent' => 'Gatejumper tests',
        'comment_content' => $comment['content'],
        'comment_parent' => $parent,
        'comment_type' => $type,
        'comment_approved' => $statuses[$comment['status'] ?? 'approved'] ?? '1',
        'comment_date' => gatejumper_local($date_gmt),
        'comment_date_gmt' => $date_gmt,
        'user_id' => $user_id,
    ]);
    return (int) gatejumper_check($id, 'inserting a comment');
}

function op_set_comment_status(array $c): array
{
    $id = (int) $c['id'];
    $status = $c['status'];
    $done = match ($status) {
        'spam' => wp_spam_comment($id),
        'trash' => wp_trash_comment($id),
        'hold', 'approve' => wp_set_comment_status($id, $status, true),
        default => throw new RuntimeException("unknown comment status: $status"),
    };
    gatejumper_check($done, "setting comment $id to $status");
    return ['status' => wp_get_comment_status($id)];
}

function op_edit_comment(array $c): array
{
    $id = (int) $c['id'];
    gatejumper_check(wp_update_comment(['comment_ID' => $id, 'comment_content' => $c['content']], true), "editing comment $id");
    return ['id' => $id];
}

function op_delete_comment(array $c): array
{
    $id = (int) $c['id'];
    gatejumper_check(wp_delete_comment($id, true), "deleting comment $id");
    return ['id' => $id];
}

/* Comments straight from the table, any status: by ``ids`` or all of ``post_id``. */
function op_comments(array $c): array
{
    global $wpdb;
    if (isset($c['ids'])) {
        $ids = implode(',', array_map('intval', $c['ids'])) ?: '0';
        $rows = $wpdb->get_results("SELECT * FROM $wpdb->comments WHERE comment_ID IN ($ids) ORDER BY comment_ID");
    } else {
        $rows = $wpdb->get_results($wpdb->prepare(
            "SELECT * FROM $wpdb->comments WHERE comment_post_ID = %d ORDER BY comment_ID",
            (int) $c['post_id']
        ));
    }
    $statuses = ['1' => 'approved', '0' => 'hold'];
    return array_map(fn($row) => [
        'id' => (int) $row->comment_ID,
        'post_id' => (int) $row->comment_post_ID,
        'parent' => (int) $row->comment_parent,
        'user_id' => (int) $row->user_id,
        'author' => $row->comment_author,
        'author_email' => $row->comment_author_email,
        'content' => $row->comment_content,
        'status' => $statuses[$row->comment_approved] ?? $row->comment_approved,
        'date_gmt' => $row->comment_date_gmt,
    ], $rows);
}

function op_set_option(array $c): array
{
    update_option($c['name'], $c['value']);
    if ($c['name'] === 'permalink_structure') {
        global $wp_rewrite;
        $wp_rewrite->set_permalink_structure($c['value']);
        flush_rewrite_rules(false);
    }
    return ['value' => get_option($c['name'])];
}

function op_eval(array $c)
{
    return eval($c['code']);
}

$gatejumper_results = [];
if (!$gatejumper_installing) {
    wp_set_current_user(1);
}
foreach ($gatejumper_request['commands'] as $gatejumper_command) {
    $gatejumper_op = 'op_' . ($gatejumper_command['op'] ?? '');
    if (!function_exists($gatejumper_op)) {
        gatejumper_fail('unknown op: ' . ($gatejumper_command['op'] ?? '(none)'));
    }
    if ($gatejumper_op === 'op_install' && !$gatejumper_installing) {
        gatejumper_fail('install must be the first command of its batch');
    }
    $gatejumper_results[] = $gatejumper_op($gatejumper_command);
    if ($gatejumper_op === 'op_install') {
        wp_set_current_user(1);
    }
}
$gatejumper_output = ob_get_clean();
if ($gatejumper_output !== '' && $gatejumper_output !== false) {
    fwrite(STDERR, $gatejumper_output);
}
echo json_encode(['results' => $gatejumper_results], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
