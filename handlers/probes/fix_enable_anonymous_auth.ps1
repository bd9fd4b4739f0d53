# wsusbot-probe: fix_enable_anonymous_auth v1
# Fix server.enable_anonymous_auth: anonymous authentication on for the root of the
# started port-80 site and its ClientWebService and Selfupdate virtual directories (those
# it has). IIS 7+: anonymousAuthentication enabled=true at each location in
# applicationHost.config (Microsoft.Web.Administration, as 'appcmd set config
# "<site>/Selfupdate" /section:anonymousAuthentication /enabled:true /commit:apphost');
# IIS 6: the AuthAnonymous bit (1) of AuthFlags on the metabase nodes. Params: none.

function Invoke-WsusbotProbe_fix_enable_anonymous_auth {
    param($P, $Result)
    $paths = @('/', '/ClientWebService', '/Selfupdate')

    function Read-AnonymousState {
        param($Errors)
        $state = New-WsusbotMap
        $site = Find-WsusbotPort80Site (Get-WsusbotIisSites $Errors)
        if ($null -eq $site) { throw 'no started IIS site is bound to http port 80' }
        $state['site'] = $site['name']
        $state['site_id'] = $site['id']
        foreach ($path in $paths) {
            $vdir = Find-WsusbotVdir $site $path
            if ($null -eq $vdir) { $state[$path] = $null } else { $state[$path] = $vdir['anonymous_auth'] }
        }
        return ,$state
    }

    $errors = New-WsusbotList
    $before = Read-AnonymousState $errors
    $Result['before'] = $before
    foreach ($problem in $errors) { [void]$Result['log'].Add('reading IIS: ' + $problem['source'] + ': ' + $problem['message']) }
    $modern = Test-WsusbotModernIis
    foreach ($path in $paths) {
        if (-not $before.Contains($path) -or $null -eq $before[$path]) {
            [void]$Result['log'].Add("$path does not exist on site '" + $before['site'] + "': skipped")
            continue
        }
        if ($before[$path] -eq $true) {
            [void]$Result['log'].Add("$path already allows anonymous access")
            continue
        }
        if ($modern) {
            $location = [string]$before['site']
            if ($path -ne '/') { $location = $location + $path }
            $manager = New-WsusbotServerManager
            $section = $manager.GetApplicationHostConfiguration().GetSection($WsusbotAnonymousSection, $location)
            $section.SetAttributeValue('enabled', $true)
            $manager.CommitChanges()
        } else {
            $node = 'IIS://localhost/W3SVC/' + $before['site_id'] + '/ROOT'
            if ($path -ne '/') { $node = $node + $path }
            $entry = New-Object System.DirectoryServices.DirectoryEntry $node
            $flags = [int](Get-WsusbotAdsiValue $entry 'AuthFlags')
            $entry.psbase.Properties['AuthFlags'].Value = ($flags -bor 1)
            $entry.psbase.CommitChanges()
        }
        $Result['changed'] = $true
        [void]$Result['log'].Add("enabled anonymous authentication on $path")
    }
    $Result['after'] = Read-AnonymousState (New-WsusbotList)
    foreach ($path in $paths) {
        if ($null -ne $Result['after'][$path] -and $Result['after'][$path] -ne $true) { throw "anonymous authentication on $path is still off" }
    }
}
